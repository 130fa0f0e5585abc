"""迁移学习: start from a network trained on another task and train it on your pictures, three ways side by side.

Note 003 §6.4 迁移学习; builds on P25 (a pretrained VGG16, its last layer replaced) and P27-P32 (the training loop, the
checkpoints, predict.py). Transfer learning: the model made for task A is the starting point for task B. Task A
here is ImageNet (1.2 million photos, 1000 classes), the network torchvision's ResNet-18 with its ImageNet weights;
task B the ants/bees pictures, or yours (--data-root DIR). Three ways, each with its own curves:

* 固定特征提取 (feature extraction): freeze the pretrained layers, train only a new last layer.
  Frozen layers give the same output for a picture every epoch, so they run once per picture
  and the new layer trains on those features (hence no random crop/flip in this way);
* 微调 (fine-tuning): every layer trains, the pretrained ones at a tenth of the learning rate;
* 从头训练 (from scratch): the same network from random weights, to show what pretraining adds.

Without the ImageNet weights (no network, --offline) it says where the weights file goes and transfers from the
pretrained network this repository ships instead: the course's CIFAR-10 model (task A = CIFAR-10, the pictures
shrunk to 32x32). There is no --resume: Ctrl-C keeps the finished epochs; run again to start over.

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

from common import cli, data, errors, paths
from common.beyond_course import amp, models, pictures, recipe, runs, transfer
from common.beyond_course.checkpoint import model_from_checkpoint, predict_command, read_checkpoint
from common.device import pick_device

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard import SummaryWriter
from torchvision.models import ResNet18_Weights, resnet18
from torchvision.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip, Resize, ToTensor

SHIPPED = paths.REPO_ROOT / "09_inference" / "weights" / "tudui_cifar10.pth"
WAYS = {"feature": "固定特征提取", "finetune": "微调", "scratch": "从头训练"}
DEFAULTS = {"ways": list(WAYS), "epochs": 5, "batch_size": 16, "lr": 0.01, "seed": 0, "image_size": 224}
DEFAULTS |= {"amp": recipe.AMP, "balance": False, "val_fraction": pictures.VAL_FRACTION}


def features(backbone, dataset, device, precision):
    """The frozen layers' output for every picture, computed once: (features, labels)."""
    backbone.eval()
    feats, labels = [], []
    with torch.no_grad(), amp.autocast(device, precision):
        for imgs, targets in DataLoader(dataset, batch_size=64):
            feats.append(backbone(imgs.to(device)).float())  # float32, as the new layer's weights
            labels.append(targets.to(device))
    return TensorDataset(torch.cat(feats), torch.cat(labels))


def main():
    args = transfer.add_args(cli.parser(__doc__, data="ants_bees"), WAYS).parse_args()
    # beyond the course: the settings (DEFAULTS but for the flags given), the run's folders, Ctrl-C
    s = runs.settings(DEFAULTS, runs.given(args, "ways", "image_size", "balance", "val_fraction"), None)
    device = pick_device(args.device)
    s.amp = amp.amp_precision(s.amp, device)  # --amp: "bfloat16", "float16" or "float32" (see 08_train/train_gpu.py)

    # 预训练模型 (task A): resnet18(weights=ResNet18_Weights.DEFAULT) = the network + its ImageNet
    # weights, downloaded once (45 MB) into torch.hub.get_dir()/checkpoints, read from there ever after
    weights = ResNet18_Weights.DEFAULT
    try:
        with transfer.fetching(weights, args.offline):  # (read safely; says whether it was downloaded now)
            pretrained = resnet18(weights=weights)
        arch, head, task_a = "resnet18", "fc", f"ImageNet ({weights})"  # fc = Linear(512, 1000)
    except Exception as exc:  # no network, --offline, a damaged file in the cache ...: said in one line
        transfer.without(weights, exc, SHIPPED)
        pretrained = model_from_checkpoint(read_checkpoint(SHIPPED))
        arch, head, task_a = "tudui", "model.8", f"CIFAR-10 ({SHIPPED.name})"  # model.8 = Linear(64, 10)

    # 准备数据集 (task B) with the preprocessing task A used: ResNet-18 wants weights.transforms() (resize,
    # center crop, ToTensor, Normalize with ImageNet's mean/std); the CIFAR-10 model 32x32 pictures
    if arch == "resnet18":
        size, resize = s.image_size, s.image_size * 256 // 224  # 224 -> Resize(256) + CenterCrop(224)
        test_transform = weights.transforms(crop_size=size, resize_size=resize)
        normalize = dict(mean=test_transform.mean, std=test_transform.std)
        aug = [Resize(resize), RandomCrop(size), RandomHorizontalFlip(), ToTensor(), Normalize(**normalize)]
    else:
        size, resize, normalize = 32, None, None
        test_transform = Compose([Resize((32, 32)), ToTensor()])
        aug = [Resize((32, 32)), RandomCrop(32, padding=4, padding_mode="reflect"), RandomHorizontalFlip(), ToTensor()]
    train_transform = Compose(aug)  # training (augmentation): a random crop and flip, a new view each epoch
    root = Path(s.data_root) if s.data_root else data.hymenoptera_root(args.offline)
    # beyond the course: checked first, each picture decoded once (and resized); val = the course's "test_data"
    once = dict(size=resize or (size, size), max_side=resize or size, val_fraction=s.val_fraction)
    train_data, test_data, classes = pictures.picture_folders(root, train_transform, test_transform, **once)
    trained_on = runs.note_data(train_data, s)  # what the checkpoints say the model was trained on

    # 损失函数. --balance (beyond the course): class weights, so 15 dogs count as much as 600 cats
    weight = pictures.class_weights(train_data.targets, len(classes)).to(device) if s.balance else None
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    logdir, checkpoint_dir = runs.make_folders(
        "transfer_learning", s, None, args.logdir, args.checkpoint_dir, args.overwrite, defaults=DEFAULTS
    )
    # what each checkpoint holds besides the weights: what predict.py needs (classes, preprocessing), where from
    about = dict(arch=arch, classes=classes, input_size=size, resize=resize, normalize=normalize, settings=vars(s))
    about |= dict(data=trained_on, script="transfer_learning", logdir=str(logdir))
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
                train_set = features(backbone, train_data.with_transform(test_transform), device, s.amp)
                test_set = features(backbone, test_data, device, s.amp)
                print(transfer.features_line(way, len(train_data), len(test_data), time.perf_counter() - t0))
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
            this_way = dict(about, way=way, pretrained=None if way == "scratch" else task_a)
            seconds, total_train_step = [], 0
            for i in range(s.epochs):
                start, train_loss = time.perf_counter(), 0.0
                net.train()  # 训练步骤开始
                for imgs, targets in train_dataloader:
                    imgs, targets = imgs.to(device), targets.to(device)
                    with amp.autocast(device, s.amp):
                        loss = loss_fn(net(imgs), targets)
                    optimizer.zero_grad()
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                    train_loss += loss.item() * len(targets)
                    total_train_step += 1
                    writer.add_scalar("train_loss", loss.item(), total_train_step)
                train_loss /= len(train_set)
                net.eval()  # 测试步骤开始
                preds = []
                with torch.no_grad(), amp.autocast(device, s.amp):
                    for imgs, _targets in test_dataloader:
                        preds.append(net(imgs.to(device)).argmax(1).cpu())
                preds = torch.cat(preds)
                val_accuracy = (preds == torch.tensor(test_data.targets)).float().mean().item()
                writer.add_scalar("val_accuracy", val_accuracy, i + 1)
                # 保存每一轮的模型, with what predict.py needs; written aside and renamed: never half a file
                path = checkpoint_dir / f"{way}_{arch}_{i + 1}.pth"
                checkpoint = dict(model=model.state_dict(), optimizer=optimizer.state_dict(), epoch=i + 1, **this_way)
                torch.save(dict(checkpoint, val_accuracy=val_accuracy, train_loss=train_loss), path.with_suffix(".tmp"))
                os.replace(path.with_suffix(".tmp"), path)
                if arch == "resnet18" and i > 0:  # 45-90 MB each: keep only the newest
                    (checkpoint_dir / f"{way}_{arch}_{i}.pth").unlink(missing_ok=True)
                seconds.append(time.perf_counter() - start)
                transfer.print_epoch(WAYS[way], way, i + 1, s.epochs, train_loss, val_accuracy, seconds[-1], path.name)

            # beyond the course: how each class did, the confusion matrix, the val pictures this way got wrong
            transfer.report(writer, way, preds, train_data, test_data, step=s.epochs)
            results[way] = (val_accuracy, sum(seconds) / len(seconds), path)
    transfer.summary(results, task_a, WAYS, train_data, test_data)  # each way, and the biggest class's baseline
    best = max(results, key=lambda way: results[way][0])
    print(f"next, the {best} model on a picture: {predict_command(results[best][2], test_data.samples[0][0])}")
    print(f"final val accuracy: {results[best][0]:.4f}")


if __name__ == "__main__":
    errors.run(main)
