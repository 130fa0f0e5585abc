"""迁移学习: start from a network trained on another task and train it on your pictures, three ways side by side.

Note 003 §6.4 迁移学习; builds on P25 (a pretrained VGG16, its last layer replaced) and
P27-P32 (the training loop, the checkpoints, predict.py). Transfer learning: the model made
for task A is the starting point for task B. Task A here is ImageNet (1.2 million photos,
1000 classes), the network torchvision's ResNet-18 with its ImageNet weights; task B the
ants/bees pictures, or yours (--data-root DIR). Three ways, each with its own curves:

* 固定特征提取 (feature extraction): freeze the pretrained layers, train only a new last layer.
  Frozen layers give the same output for a picture every epoch, so they run once per picture
  and the new layer trains on those features (hence no random crop/flip in this way);
* 微调 (fine-tuning): every layer trains, the pretrained ones at a tenth of the learning rate;
* 从头训练 (from scratch): the same network from random weights, to show what pretraining adds.

Without the ImageNet weights (no network, --offline) it says where the weights file goes and
transfers from the pretrained network this repository ships instead: the course's CIFAR-10
model (task A = CIFAR-10, the pictures shrunk to 32x32). There is no --resume: Ctrl-C keeps
the finished epochs; run again to start over.

Your pictures (beyond the course, common/beyond_course/pictures.py): DIR/train/<class>/ + DIR/val/<class>/,
or just DIR/<class>/ (split for you: --val-fraction), any format a phone makes (HEIC with pillow-heif),
each picture read once. After training: the val accuracy of each class, and a warning when a way does
no better than always answering the biggest class (--balance weighs the classes equally in the loss).

Run:      python 06_pretrained/transfer_learning.py            (ants/bees, 5 epochs per way)
Yours:    python 06_pretrained/transfer_learning.py --data-root "D:/my pictures"
Quicker:  python 06_pretrained/transfer_learning.py --ways feature finetune --image-size 160
Look:     tensorboard --logdir logs          -> per way: train_loss, val_accuracy, mistakes, confusion_matrix
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

import copy
import os
import time
from contextlib import ExitStack

from common import _, cli, data, errors, paths
from common.beyond_course import amp, download, models, pictures, recipe, runs
from common.beyond_course.checkpoint import model_from_checkpoint, predict_command, read_checkpoint
from common.device import pick_device

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard import SummaryWriter
from torchvision import transforms
from torchvision.models import ResNet18_Weights, resnet18

SHIPPED = paths.REPO_ROOT / "09_inference" / "weights" / "tudui_cifar10.pth"
WAYS = {"feature": "固定特征提取", "finetune": "微调", "scratch": "从头训练"}
DEFAULTS = {
    "ways": list(WAYS),
    "epochs": 5,
    "batch_size": 16,
    "lr": 0.01,
    "seed": 0,
    "image_size": 224,
    "amp": recipe.AMP,
    "balance": False,
    "val_fraction": pictures.VAL_FRACTION,
}


def features(backbone, dataset, device, autocast):
    """The frozen layers' output for every picture, computed once: (features, labels)."""
    backbone.eval()
    feats, labels = [], []
    with torch.no_grad(), autocast():
        for imgs, targets in DataLoader(dataset, batch_size=64):
            feats.append(backbone(imgs.to(device)).float())  # float32, as the new layer's weights
            labels.append(targets.to(device))
    return TensorDataset(torch.cat(feats), torch.cat(labels))


def main():
    p = cli.parser(__doc__, data="ants_bees")
    p.add_argument(
        "--data-root",
        metavar="DIR",
        default=None,
        help=_(
            "your pictures: DIR/train/<class>/* and DIR/val/<class>/* (or DIR/test/), or DIR/<class>/* "
            "(split for you); default: the ants/bees (downloaded if missing, else the bundled sample)"
        ),
    )
    p.add_argument("--ways", nargs="+", choices=WAYS, help=_("which ways to train (default: all)"))
    p.add_argument("--epochs", type=cli.positive_int, help=_("epochs per way (default 5)"))
    p.add_argument("--batch-size", type=cli.positive_int, help=_("pictures per step (default 16)"))
    p.add_argument(
        "--lr",
        type=cli.positive_float,
        help=_(
            "learning rate of the new last layer and from scratch (default 0.01); "
            "fine-tuning gives the pretrained layers a tenth of it"
        ),
    )
    p.add_argument(
        "--image-size",
        type=cli.positive_int,
        help=_(
            "ResNet-18's input size (default 224, as on ImageNet; smaller is faster and less "
            "accurate); the CIFAR-10 model always takes 32"
        ),
    )
    p.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        default=None,
        help=_("where to write checkpoints (default: a new folder under checkpoints/)"),
    )
    p.add_argument("--overwrite", action="store_true", help=_("start afresh in a --logdir/--checkpoint-dir in use"))
    p.add_argument("--seed", type=int, help=_("random seed (default 0): same seed, same run"))
    cli.add_val_fraction(p)
    p.add_argument(
        "--balance",
        action="store_true",
        default=None,
        help=_(
            "weigh each class equally in the loss, however many pictures it has (for unbalanced "
            "folders: 600 cats, 15 dogs)"
        ),
    )
    amp.add_amp_args(p)
    args = p.parse_args()
    # beyond the course: the run's settings and its own folders (a value that differs from DEFAULTS
    # shows in the folder's name); Ctrl-C keeps the finished epochs
    s = runs.settings(DEFAULTS, runs.given(args, "ways", "image_size", "balance", "val_fraction"), None)
    device = pick_device(args.device)
    s.amp = amp.amp_precision(s.amp, device)  # --amp: "bfloat16", "float16" or "float32" (see 08_train/train_gpu.py)
    autocast = lambda: torch.autocast(device.type, dtype=getattr(torch, s.amp), enabled=s.amp != "float32")  # noqa: E731
    # torchvision unpickles the cached weights file; weights_only=True makes that safe (see model_pretrained.py)
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"

    # 预训练模型 (task A): resnet18(weights=ResNet18_Weights.DEFAULT) = the network + its ImageNet
    # weights, downloaded once (45 MB) into torch.hub.get_dir()/checkpoints, read from there ever after
    weights = ResNet18_Weights.DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    was_cached = cached.is_file()  # asked before the call: it downloads the file when it is missing
    try:
        with download.downloading(weights.url, offline=args.offline, have=was_cached):
            pretrained = resnet18(weights=weights)
        arch, head, task_a = "resnet18", "fc", f"ImageNet ({weights})"  # fc = Linear(512, 1000)
        print(
            (
                _("pretrained: ResNet-18 with ImageNet weights from {path} (already cached: no download)")
                if was_cached
                else _("pretrained: ResNet-18 with ImageNet weights from {path} (downloaded now; cached for next time)")
            ).format(path=cached)
        )
    except Exception as exc:  # no network, --offline, a damaged file in the cache ...
        if cached.is_file():
            print(
                _(
                    "{path} is not a usable ResNet-18 weights file ({problem}) -> the shipped CIFAR-10 model instead; "
                    "delete that file and run again"
                ).format(path=cached, problem=type(exc).__name__)
            )
        else:
            download.fallback_note(
                _("ResNet-18's ImageNet weights"),
                exc,
                _("transferring from the CIFAR-10 model {name} instead").format(name=SHIPPED.name),
                _("To use them, put {url} at {path}").format(url=weights.url, path=cached),
            )
        pretrained = model_from_checkpoint(read_checkpoint(SHIPPED))
        arch, head, task_a = "tudui", "model.8", f"CIFAR-10 ({SHIPPED.name})"  # model.8 = Linear(64, 10)

    # 准备数据集 (task B) with the preprocessing task A used: ResNet-18 wants weights.transforms()
    # (resize, center crop, ToTensor, Normalize with ImageNet's mean/std); the CIFAR-10 model 32x32 pictures
    if arch == "resnet18":
        size, resize = s.image_size, s.image_size * 256 // 224  # 224 -> Resize(256) + CenterCrop(224)
        test_transform = weights.transforms(crop_size=size, resize_size=resize)
        normalize = dict(mean=test_transform.mean, std=test_transform.std)
        train_transform = transforms.Compose(
            [  # training: a random crop and flip, a new view each epoch
                transforms.Resize(resize),
                transforms.RandomCrop(size),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                transforms.Normalize(**normalize),
            ]
        )
    else:
        size, resize, normalize = 32, None, None
        test_transform = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])
        train_transform = transforms.Compose(
            [
                transforms.Resize((32, 32)),
                transforms.RandomCrop(32, padding=4, padding_mode="reflect"),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
            ]
        )
    root = Path(s.data_root) if s.data_root else data.hymenoptera_root(args.offline)
    # beyond the course: checked first, and each picture decoded once, with the transforms' first step
    # (Resize) done then; the val pictures are "test_data" here, as the course calls its held-out set
    train_data, test_data, classes = pictures.picture_folders(
        root,
        train_transform,
        test_transform,
        size=resize or (size, size),
        max_side=resize or size,
        val_fraction=s.val_fraction,
    )
    trained_on = runs.note_data(train_data, s)  # what the checkpoints say the model was trained on
    base_label, baseline = pictures.biggest_class(train_data.targets, test_data.targets)

    # 损失函数. --balance (beyond the course): class weights, so 15 dogs count as much as 600 cats
    weight = pictures.class_weights(train_data.targets, len(classes)).to(device) if s.balance else None
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    logdir, checkpoint_dir = runs.make_folders(
        "transfer_learning", s, None, args.logdir, args.checkpoint_dir, args.overwrite, defaults=DEFAULTS
    )
    results, writers = {}, ExitStack()
    with runs.keep_finished_epochs(writers, checkpoint_dir, resumable=False):  # Ctrl-C: finished epochs stay
        for way in s.ways:
            torch.manual_seed(s.seed)  # each way starts from the same random numbers
            # 创建网络模型: task A's network with a new last layer for task B's classes. For ResNet-18
            # this line is model.fc = nn.Linear(512, len(classes)): new, random, and trainable
            model = models.build_model(arch, len(classes)) if way == "scratch" else copy.deepcopy(pretrained)
            last = nn.Linear(model.get_submodule(head).in_features, len(classes))
            model.set_submodule(head, last)
            model = model.to(device)
            if way == "feature":
                model.requires_grad_(False)  # freeze everything: no gradients, no updates ...
                last.requires_grad_(True)  # ... except the new layer
                # the frozen part = the model with its last layer swapped for "pass through"; its
                # features of each picture (train ones without crop/flip) are computed once, here
                t0 = time.perf_counter()
                backbone = copy.deepcopy(model)
                backbone.set_submodule(head, nn.Identity())
                still = train_data.with_transform(test_transform)  # the same decoded pictures
                train_set = features(backbone, still, device, autocast)
                test_set = features(backbone, test_data, device, autocast)
                print(
                    _(
                        "{way}: features of {train} + {val} pictures computed once ({s:.1f} s): the new layer "
                        "trains on them"
                    ).format(way=way, train=len(train_data), val=len(test_data), s=time.perf_counter() - t0)
                )
                net = last  # what each step runs: only the new layer
            else:
                net, train_set, test_set = model, train_data, test_data
            train_dataloader = DataLoader(train_set, batch_size=s.batch_size, shuffle=True)
            test_dataloader = DataLoader(test_set, batch_size=64)

            # 优化器: only the parameters that train. Fine-tuning uses two param groups: the
            # pretrained layers move slowly (they are already good), the new layer at full speed
            if way == "finetune":
                body = [q for name, q in model.named_parameters() if not name.startswith(head + ".")]
                groups = [{"params": body, "lr": s.lr / 10}, {"params": last.parameters()}]
            else:
                groups = [{"params": [q for q in model.parameters() if q.requires_grad]}]
            optimizer = torch.optim.SGD(groups, lr=s.lr, momentum=0.9)
            scaler = torch.amp.GradScaler(device.type, enabled=s.amp == "float16")  # --amp float16 (see train_gpu.py)

            writer = writers.enter_context(SummaryWriter(logdir / way))  # one folder per way: curves overlay
            seconds, total_train_step = [], 0
            for i in range(s.epochs):
                start = time.perf_counter()
                # 训练步骤开始
                net.train()
                train_loss = 0.0
                for imgs, targets in train_dataloader:
                    imgs, targets = imgs.to(device), targets.to(device)
                    with autocast():
                        loss = loss_fn(net(imgs), targets)
                    optimizer.zero_grad()
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                    train_loss += loss.item() * len(targets)
                    total_train_step += 1
                    writer.add_scalar("train_loss", loss.item(), total_train_step)
                # 测试步骤开始
                net.eval()
                preds = []
                with torch.no_grad(), autocast():
                    for imgs, _targets in test_dataloader:
                        preds.append(net(imgs.to(device)).argmax(1).cpu())
                preds = torch.cat(preds)
                truth = torch.tensor(test_data.targets)
                val_accuracy = (preds == truth).float().mean().item()
                writer.add_scalar("val_accuracy", val_accuracy, i + 1)

                # 保存每一轮的模型: everything predict.py needs to use it on a new picture, written
                # aside and renamed, so a crash never leaves half a file
                path = checkpoint_dir / f"{way}_{arch}_{i + 1}.pth"
                torch.save(
                    {
                        "arch": arch,
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "epoch": i + 1,
                        "way": way,
                        "classes": classes,
                        "input_size": size,
                        "resize": resize,
                        "normalize": normalize,
                        "val_accuracy": val_accuracy,
                        "pretrained": None if way == "scratch" else task_a,
                        "train_loss": train_loss / len(train_set),
                        "settings": vars(s),
                        "data": trained_on,
                        "script": "transfer_learning",
                        "logdir": str(logdir),
                    },
                    path.with_suffix(".tmp"),
                )
                os.replace(path.with_suffix(".tmp"), path)
                if arch == "resnet18" and i > 0:  # 45-90 MB each: keep only the newest
                    (checkpoint_dir / f"{way}_{arch}_{i}.pth").unlink(missing_ok=True)
                seconds.append(time.perf_counter() - start)
                print(
                    _(
                        "{name} ({way}) epoch {epoch}/{epochs}: train loss {loss:.4f}, val accuracy {acc:.4f}, "
                        "{s:.1f} s, saved {file}"
                    ).format(
                        name=WAYS[way],
                        way=way,
                        epoch=i + 1,
                        epochs=s.epochs,
                        loss=train_loss / len(train_set),
                        acc=val_accuracy,
                        s=seconds[-1],
                        file=path.name,
                    ),
                    flush=True,
                )

            # beyond the course: how each class did (the mean over classes shows what the total can hide),
            # the confusion matrix, and the val pictures this way got wrong, labelled true -> predicted
            lines = pictures.per_class_lines(
                way,
                preds,
                truth,
                classes,
                train_data.targets,
                _("try --balance, more pictures of the smaller classes, or more --epochs"),
            )
            print("\n".join(lines), flush=True)
            matrix, legend = pictures.confusion_picture(truth, preds, classes)
            writer.add_image("confusion_matrix", matrix, s.epochs, dataformats="HWC")
            wrong = (preds != truth).nonzero().flatten()[:48].tolist()
            if wrong:
                sheet, legend = pictures.mistakes_picture(
                    [test_data.samples[k][0] for k in wrong],
                    truth[wrong].tolist(),
                    preds[wrong].tolist(),
                    classes,
                    load=test_data.loader,
                )
                writer.add_image("mistakes", sheet, s.epochs, dataformats="HWC")
            if legend:  # no font here for these names: the pictures show numbers
                writer.add_text("legend", legend, s.epochs)
            results[way] = (val_accuracy, sum(seconds) / len(seconds), path)
    print(f"\n{_('way'):<9} {_('pretrained on'):<44} {_('val accuracy'):>13} {_('s/epoch'):>8}")
    for way, (acc, secs, _path) in results.items():
        shown = _("- (random start)") if way == "scratch" else task_a
        print(f"{way:<9} {shown:<44} {acc:>13.4f} {secs:>8.2f}  {WAYS[way]}")
    always = _("- (always answers {name}, the biggest class)").format(name=classes[base_label])
    print(f"{_('baseline'):<9} {always:<44} {baseline:>13.4f}")
    best = max(results, key=lambda way: results[way][0])
    print(f"next, the {best} model on a picture: {predict_command(results[best][2], test_data.samples[0][0])}")
    print(f"final val accuracy: {results[best][0]:.4f}")


if __name__ == "__main__":
    errors.run(main)
