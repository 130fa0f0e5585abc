"""完整的模型训练套路 + 利用GPU训练（二）: the course's CIFAR-10 training (P27-P31) on any device, the main job.

Run:     python 08_train/train_gpu.py        (the course: 10 epochs, batch 64, lr 0.01; quick: --limit 500 --epochs 2)
Better:  python 08_train/train_gpu.py --recipe improved   (faster: --amp, README "Speed")
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

import time

from common import _, cli, data, errors
from common.beyond_course import amp, checkpoint, fastdata, models, pictures, recipe, runs
from common.beyond_course.recipe import LABEL_SMOOTHING, improved_optimizer, random_crop_flip
from common.device import check_device
from common.model import CIFAR10_CLASSES, Tudui

import torch
import torchvision
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

SCRIPT = Path(__file__).stem  # this file's name: its runs go to logs/<name>/ and checkpoints/<name>/


def main():
    p = cli.parser(__doc__, data="pictures")
    shown = {"epochs": "10 (course) / 24 (improved)", "lr": "0.01 (course) / 0.1 (improved)", "batch_size": 64}
    runs.add_train_args(p, shown)  # --epochs, --lr ... (shown: the defaults --help prints)
    args = amp.add_speed_args(recipe.add_recipe_args(p)).parse_args()
    # 定义训练的设备: the course's torch.device("cuda" if torch.cuda.is_available() else "cpu"), for any GPU
    device = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else torch.device("cpu")
    if args.device:
        device = check_device(args.device)  # e.g. --device cuda without an NVIDIA GPU: one line, not a crash
    # beyond the course: --resume continues a run from its checkpoint, with that run's settings
    defaults, given = recipe.defaults(args.recipe), runs.given(args)  # the recipe's values, the flags given
    resumed = runs.load_for_resume(args.resume, SCRIPT, defaults, given, args.checkpoint_dir)
    s = runs.settings(defaults, given, resumed)  # the flags, else the resumed run's, else the recipe's
    torch.manual_seed(s.seed)
    print(_("device: {0}, recipe: {1}, model: {2}, loader: {3}").format(device, s.recipe, s.model, args.loader))
    s.amp = amp.amp_precision(s.amp, device)  # beyond the course, --amp: "bfloat16", "float16" or "float32"
    # 准备数据集 as in train.py; beyond the course: --data-root with your own pictures (DIR/<class>/ ...)
    if s.data_root and not pictures.is_cifar10(s.data_root):
        train_data, test_data, classes = pictures.picture_data(
            s.data_root, limit=s.limit, val_fraction=args.val_fraction
        )
    else:
        root, classes = data.cifar10_root(s.data_root), CIFAR10_CLASSES
        dataset_transform = torchvision.transforms.ToTensor()
        try:
            with data.cifar10_download(root, offline=args.offline):
                train_data = torchvision.datasets.CIFAR10(root, train=True, transform=dataset_transform, download=True)
                test_data = torchvision.datasets.CIFAR10(root, train=False, transform=dataset_transform, download=True)
        except (OSError, RuntimeError) as exc:  # no network, --offline ...: the bundled sample, said in one line
            train_data = data.instead_of_download(exc, root, True, dataset_transform)
            test_data = data.instead_of_download(exc, root, False, dataset_transform)
        train_data, test_data = data.limit_dataset(train_data, s.limit), data.limit_dataset(test_data, s.limit)
    train_data_size, test_data_size = len(train_data), len(test_data)
    print(f"训练数据集的长度为: {train_data_size}, 测试数据集的长度为: {test_data_size}")
    trained_on = runs.note_data(train_data, s, resumed)  # on the bundled sample: what accuracy to expect
    # 利用 DataLoader 加载数据集 (--loader classic), or (beyond the course) the whole set as one tensor on the device
    channels_last = args.channels_last and args.loader == "fast"
    if args.loader == "classic":
        train_dataloader = DataLoader(train_data, batch_size=s.batch_size, shuffle=True)
        test_dataloader = DataLoader(test_data, batch_size=s.batch_size)
    else:
        train_dataloader, test_dataloader = fastdata.loaders(train_data, test_data, s.batch_size, device, channels_last)
    # 创建网络模型: the course's Tudui (common/model.py), or another --model (beyond the course)
    tudui = Tudui(len(classes)) if s.model == "tudui" else models.build_model(s.model, len(classes))
    tudui = tudui.to(device)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING[s.recipe])  # 损失函数 (smoothing: improved)
    loss_fn = loss_fn.to(device)
    learning_rate = s.lr  # 优化器: the course's SGD; --recipe improved: momentum, weight decay, one-cycle schedule
    if s.recipe == "course":
        optimizer = torch.optim.SGD(tudui.parameters(), lr=learning_rate)
        scheduler = None
    else:
        optimizer, scheduler = improved_optimizer(tudui, learning_rate, s.epochs, len(train_dataloader))
    # beyond the course, --amp float16 only: GradScaler keeps small gradients from rounding to 0 in float16
    scaler = torch.amp.GradScaler(device.type) if s.amp == "float16" else None

    # 设置训练网络的一些参数
    total_train_step = 0  # 记录训练的次数
    total_test_step = 0  # 记录测试的次数
    epoch = s.epochs  # 训练的轮数
    start_epoch = resumed["epoch"] if resumed else 0  # (--resume: from where it ended)
    if resumed:  # beyond the course: --resume goes on where its checkpoint ended (P26 模型加载)
        with runs.loading(resumed):  # a checkpoint that does not fit: one line
            tudui.load_state_dict(resumed["model"])
            optimizer.load_state_dict(resumed["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(resumed["scheduler"])
            if scaler is not None:  # the factor the run had reached
                scaler.load_state_dict(resumed["scaler"])
            torch.set_rng_state(resumed["rng_state"])  # the same shuffles and crops as an unbroken run
            total_train_step, total_test_step = resumed["total_train_step"], resumed["total_test_step"]
        recipe.check_schedule(scheduler, s.epochs, len(train_dataloader))  # one-cycle: not to other --epochs
    if channels_last:  # beyond the course (README "Speed"), same results: NHWC, what conv kernels prefer
        tudui = tudui.to(memory_format=torch.channels_last)
    step_fn = torch.compile(tudui) if args.compile else tudui
    # beyond the course: logs/<script>/<time>[_<what differs>], the same under checkpoints/ (--resume: the run's)
    logdir, checkpoint_dir = runs.make_folders(SCRIPT, s, resumed, args.logdir, args.checkpoint_dir, args.overwrite)
    writer = SummaryWriter(logdir, purge_step=total_train_step if resumed else None)  # 添加tensorboard
    with runs.keep_finished_epochs(writer, checkpoint_dir):  # Ctrl-C keeps finished epochs, says how to resume
        for i in range(start_epoch, epoch):
            print(f"-------第 {i + 1} 轮训练开始-------")
            start, train_loss_sum = time.perf_counter(), torch.zeros((), device=device)  # (no GPU sync per step)
            tudui.train()  # 训练步骤开始
            progress_bar = tqdm(train_dataloader, desc=f"epoch {i + 1}/{epoch}", leave=False, disable=None)
            for imgs, targets in progress_bar:  # a progress bar around the loader (note 003 "4.8 tqdm")
                imgs = imgs.to(device)
                targets = targets.to(device)
                if s.augment:
                    imgs = random_crop_flip(imgs)
                with amp.autocast(device, s.amp):  # --amp: convolutions in the 16-bit float
                    outputs = step_fn(imgs)
                    loss = loss_fn(outputs, targets)
                # 优化器优化模型
                optimizer.zero_grad()
                if scaler is None:
                    loss.backward()
                    optimizer.step()
                else:  # --amp float16: the loss scaled up for backward(), the gradients back down for the step
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                if scheduler is not None:
                    scheduler.step()
                train_loss_sum += loss.detach() * len(targets)
                total_train_step = total_train_step + 1
                if total_train_step % min(100, len(train_dataloader)) == 0:  # (a tiny --limit: < 100 steps)
                    print(f"训练次数: {total_train_step}, Loss: {loss.item():.4f}")
                    writer.add_scalar("train_loss", loss.item(), total_train_step)

            tudui.eval()  # 测试步骤开始
            total_test_loss = 0.0
            total_accuracy = 0
            with torch.no_grad():
                for imgs, targets in test_dataloader:
                    imgs = imgs.to(device)
                    targets = targets.to(device)
                    with amp.autocast(device, s.amp):
                        outputs = tudui(imgs).float()
                    total_test_loss += F.cross_entropy(outputs, targets, reduction="sum").item()  # per image
                    total_accuracy += (outputs.argmax(1) == targets).sum().item()
            test_loss, test_accuracy = total_test_loss / test_data_size, total_accuracy / test_data_size
            print(f"整体测试集上的Loss: {test_loss:.4f}")
            print(f"整体测试集上的正确率: {test_accuracy:.4f}")
            writer.add_scalar("test_loss", test_loss, total_test_step)
            writer.add_scalar("test_accuracy", test_accuracy, total_test_step)
            total_test_step = total_test_step + 1

            # 保存每一轮的模型: a dict that torch.load(..., weights_only=True) reads safely, renamed when whole
            path, train_loss = checkpoint_dir / f"{s.model}_{i + 1}.pth", float(train_loss_sum) / train_data_size
            ckpt = {"arch": s.model, "classes": list(classes), "model": tudui.state_dict(), "epoch": i + 1}
            ckpt |= {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict() if scheduler else None}
            ckpt |= {"scaler": scaler.state_dict() if scaler else None, "rng_state": torch.get_rng_state()}
            ckpt |= {"total_train_step": total_train_step, "total_test_step": total_test_step}  # (--resume)
            ckpt |= {"test_accuracy": test_accuracy, "train_loss": train_loss, "settings": vars(s), "data": trained_on}
            ckpt |= {"script": SCRIPT, "logdir": str(logdir)}
            torch.save(ckpt, path.with_suffix(".tmp"))
            path.with_suffix(".tmp").replace(path)
            if s.model == "resnet34" and i > start_epoch:  # 85 MB each: keep only the newest
                (checkpoint_dir / f"{s.model}_{i}.pth").unlink(missing_ok=True)
            seconds = time.perf_counter() - start  # the epoch's loss, time, test results, checkpoint in one line
            print(runs.epoch_line(i + 1, epoch, train_loss, seconds, (test_loss, test_accuracy), path.name), flush=True)
    writer.close()
    picture = pictures.report_classes(tudui, test_dataloader, device, train_data, test_data, classes)
    print(f"next, the model on a picture: {checkpoint.predict_command(path, picture)}")
    print(f"final test accuracy: {test_accuracy:.4f}")


if __name__ == "__main__":
    errors.run(main)
