"""完整的模型训练套路 + 利用GPU训练（二）: the course's CIFAR-10 training on any device, the main job.

Course P27-P31; note 000 "完整训练简单套路" / "GPU训练", note 004 "训练" / "利用GPU训练".
The course's loop (prepare data, build the model, loss + optimizer, then for
each epoch: train, test, log to TensorBoard, save a checkpoint) with its
second GPU way: one ``device`` line and ``.to(device)`` on model, loss and
data, on an NVIDIA, AMD, Apple or Intel GPU or the CPU. Beyond the course, and
marked so below: a fast data path (on by default, same batches), folders of
its own per run, --resume and Ctrl-C that never lose a finished epoch,
``--recipe improved`` (README "After the course") and ``--model resnet34``
(note 004 "使用resnet34网络验证").

Run:     python 08_train/train_gpu.py              (10 epochs, batch 64, SGD lr 0.01: the course)
Quick:   python 08_train/train_gpu.py --limit 500 --epochs 2
Better:  python 08_train/train_gpu.py --recipe improved
Faster:  python 08_train/train_gpu.py --amp        (mixed precision where this device has it; README "Speed")
Look:    tensorboard --logdir logs                 -> train_loss, test_loss, test_accuracy
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # lets `import common` work from any folder
import common  # noqa: F401  (first: a Ctrl-C while torch loads then ends in one line)

# isort: split
import argparse
import os
import time

import torch
import torchvision
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from common import cli, errors
from common.beyond_course import amp, pictures, recipe, runs
from common.beyond_course.checkpoint import predict_command
from common.beyond_course.fastdata import TensorBatches, as_uint8_tensors
from common.beyond_course.models import ARCHS, build_model
from common.beyond_course.recipe import LABEL_SMOOTHING, RECIPES, improved_optimizer, random_crop_flip
from common.data import cifar10
from common.device import check_device
from common.model import CIFAR10_CLASSES


def main():
    p = cli.parser(__doc__, data="pictures")
    cli.add_train_args(p, epochs="10 (course) / 24 (improved)", batch_size=64, lr="0.01 (course) / 0.1 (improved)")
    p.add_argument("--recipe", choices=RECIPES, default=None,
                   help="course (default): the notes' model and SGD; improved: BatchNorm+ReLU, augmentation, "
                        "momentum, one-cycle schedule, label smoothing (beyond the course)")
    p.add_argument("--model", choices=ARCHS, default=None,
                   help="tudui (course), tudui_bn (improved) or resnet34 (note 004); default: the recipe's")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random crop + flip on the device (default: on with --recipe improved)")
    amp.add_speed_args(p)
    args = p.parse_args()
    # beyond the course: the run's settings (the flags, else the recipe's values; with --resume, the
    # resumed run's own), its folders, and the checkpoint it continues
    run = runs.Run("train_gpu", recipe.defaults(args.recipe), **cli.run_flags(args))
    s = run.settings
    torch.manual_seed(s.seed)

    # 定义训练的设备. The course: torch.device("cuda" if torch.cuda.is_available() else "cpu");
    # torch.accelerator asks the same of whatever GPU this PyTorch build knows (cuda, mps, xpu ...)
    if args.device:
        device = check_device(args.device)  # e.g. --device cuda without an NVIDIA GPU: one line, not a crash
    elif torch.accelerator.is_available():
        device = torch.accelerator.current_accelerator()
    else:
        device = torch.device("cpu")
    print(f"device: {device}, recipe: {s.recipe}, model: {s.model}, loader: {args.loader}")
    s.amp = amp.amp_precision(s.amp, device)  # beyond the course, --amp: "bfloat16", "float16" or "float32"; says which

    # 准备数据集: the course's torchvision.datasets.CIFAR10("./dataset", train=..., transform=ToTensor(),
    # download=True), or the bundled sample when there is no network (see train.py). Beyond the course:
    # --data-root with your own pictures (train/<class>/ + test/<class>/, or just <class>/, split for you;
    # any class names), each picture resized to CIFAR-10's 32x32, one output of the model per class
    if s.data_root and not pictures.is_cifar10(s.data_root):
        train_data, test_data, classes = pictures.picture_data(s.data_root, limit=s.limit,
                                                               val_fraction=args.val_fraction)
    else:
        train_data = cifar10(s.data_root, train=True, transform=torchvision.transforms.ToTensor(),
                             download=not args.offline, limit=s.limit)
        test_data = cifar10(s.data_root, train=False, transform=torchvision.transforms.ToTensor(),
                            download=not args.offline, limit=s.limit)
        classes = CIFAR10_CLASSES
    train_data_size, test_data_size = len(train_data), len(test_data)
    print(f"训练数据集的长度为: {train_data_size}, 测试数据集的长度为: {test_data_size}")
    run.note_data(train_data)  # on the bundled sample: says what accuracy to expect, and why

    # 利用 DataLoader 加载数据集 (--loader classic), or the fast path (beyond the course, the default):
    # the whole dataset decoded once into a uint8 tensor on the device, batches sliced from it
    channels_last = args.channels_last and args.loader == "fast"
    if args.loader == "classic":
        train_dataloader = DataLoader(train_data, batch_size=s.batch_size, shuffle=True)
        test_dataloader = DataLoader(test_data, batch_size=s.batch_size)
    else:
        t0 = time.perf_counter()
        train_dataloader = TensorBatches(*as_uint8_tensors(train_data), s.batch_size, shuffle=True,
                                         device=device, channels_last=channels_last)
        # testing keeps no activations for backward, so much bigger batches are fine
        test_dataloader = TensorBatches(*as_uint8_tensors(test_data), 1000, shuffle=False, device=device,
                                        channels_last=channels_last)
        print(f"fast path: {train_data_size + test_data_size} images on {device} in {time.perf_counter() - t0:.1f} s")

    # 创建网络模型 (common/model.py: the course's Tudui; beyond_course/models.py: TuduiBN, resnet34)
    tudui = build_model(s.model, num_classes=len(classes))
    tudui = tudui.to(device)
    # 损失函数 (label smoothing: --recipe improved)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING[s.recipe])
    loss_fn = loss_fn.to(device)
    # 优化器: the course's SGD; --recipe improved adds momentum, weight decay and a one-cycle schedule
    learning_rate = s.lr
    if s.recipe == "course":
        optimizer = torch.optim.SGD(tudui.parameters(), lr=learning_rate)
        scheduler = None
    else:
        optimizer, scheduler = improved_optimizer(tudui, learning_rate, s.epochs, len(train_dataloader))
    # beyond the course, --amp float16: its few exponent bits round small gradients to 0, so GradScaler
    # multiplies the loss before backward() and divides the gradients back before the step (skipping a step
    # whose gradients overflowed). For float32 and bfloat16 (float32's range) it is off, and its calls in
    # the loop below are the course's loss.backward() and optimizer.step()
    scaler = torch.amp.GradScaler(device.type, enabled=s.amp == "float16")
    if run.checkpoint:  # --resume continues from the checkpoint: weights, optimizer, schedule, random state
        with run.loading():
            tudui.load_state_dict(run.checkpoint["model"])
            optimizer.load_state_dict(run.checkpoint["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(run.checkpoint["scheduler"])
            torch.set_rng_state(run.checkpoint["rng_state"])
            if scaler.is_enabled():  # the factor the run had reached
                scaler.load_state_dict(run.checkpoint["scaler"])
        if scheduler is not None and scheduler.total_steps != s.epochs * len(train_dataloader):
            raise errors.LessonError(f"--resume: this one-cycle schedule was planned for {scheduler.total_steps} "
                                     "steps; it cannot be stretched to other --epochs (start a new run)")

    # ---- beyond the course: speed (README "Speed"); none of it changes what is computed ----
    if channels_last:
        tudui = tudui.to(memory_format=torch.channels_last)  # NHWC: what CPU and GPU conv kernels prefer
    step_fn = torch.compile(tudui) if args.compile else tudui
    # autocast runs convolutions and matmuls in the 16-bit float and keeps weights and loss in float32
    autocast = lambda: torch.autocast(device.type, dtype=getattr(torch, s.amp), enabled=s.amp != "float32")  # noqa: E731

    # 设置训练网络的一些参数 (the course's counters, continued when resuming)
    total_train_step, total_test_step, epoch = run.total_train_step, run.total_test_step, s.epochs
    log_every = min(100, len(train_dataloader))  # on a tiny --limit an epoch is shorter than 100 steps

    # 添加tensorboard: logs/train_gpu/<time>[_<what differs>], one folder per run
    run.start()
    writer = SummaryWriter(run.logdir, purge_step=run.purge_step)

    test_accuracy = run.test_accuracy
    with run.stop_cleanly(writer):  # Ctrl-C keeps finished epochs and prints how to resume
        for i in range(run.start_epoch, epoch):
            start = time.perf_counter()
            # 训练步骤开始
            tudui.train()
            train_loss_sum = torch.zeros((), device=device)  # summed on the device: no GPU sync per step
            for imgs, targets in tqdm(train_dataloader, desc=f"epoch {i + 1}/{epoch}", leave=False, disable=None):
                imgs = imgs.to(device)
                targets = targets.to(device)
                if s.augment:
                    imgs = random_crop_flip(imgs)
                with autocast():
                    outputs = step_fn(imgs)
                    loss = loss_fn(outputs, targets)

                # 优化器优化模型
                optimizer.zero_grad()
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                if scheduler is not None:
                    scheduler.step()
                train_loss_sum += loss.detach() * len(targets)
                total_train_step = total_train_step + 1
                if total_train_step % log_every == 0:
                    writer.add_scalar("train_loss", loss.item(), total_train_step)

            # 测试步骤开始
            tudui.eval()
            total_test_loss = 0.0
            total_accuracy = 0
            with torch.no_grad():
                for imgs, targets in test_dataloader:
                    imgs = imgs.to(device)
                    targets = targets.to(device)
                    with autocast():
                        outputs = step_fn(imgs).float()
                    # summed over images (not batches), so the mean below doesn't depend on the batch size
                    total_test_loss += F.cross_entropy(outputs, targets, reduction="sum").item()
                    total_accuracy += (outputs.argmax(1) == targets).sum().item()
            test_loss = total_test_loss / test_data_size
            test_accuracy = total_accuracy / test_data_size
            writer.add_scalar("test_loss", test_loss, total_test_step)
            writer.add_scalar("test_accuracy", test_accuracy, total_test_step)
            total_test_step = total_test_step + 1

            # 保存每一轮的模型: a dict that torch.load(..., weights_only=True) reads back safely,
            # written aside and renamed so a crash never leaves half a file (see train.py)
            train_loss = train_loss_sum.item() / train_data_size
            path = run.checkpoint_dir / f"{s.model}_{i + 1}.pth"
            torch.save({"arch": s.model, "classes": list(classes), "model": tudui.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict() if scheduler else None, "scaler": scaler.state_dict(),
                        "epoch": i + 1, "total_train_step": total_train_step, "total_test_step": total_test_step,
                        "test_accuracy": test_accuracy, "train_loss": train_loss,
                        "rng_state": torch.get_rng_state(), **run.record()}, path.with_suffix(".tmp"))
            os.replace(path.with_suffix(".tmp"), path)
            if s.model == "resnet34" and i > run.start_epoch:  # 85 MB each: keep only the newest
                (run.checkpoint_dir / f"{s.model}_{i}.pth").unlink(missing_ok=True)
            print(f"epoch {i + 1}/{epoch}: train loss {train_loss:.4f} (epoch mean), test loss {test_loss:.4f}, "
                  f"test accuracy {test_accuracy:.4f}, {time.perf_counter() - start:.1f} s, saved {path.name}",
                  flush=True)
    picture = None  # for CIFAR-10: predict.py's own dog
    if classes is not CIFAR10_CLASSES:  # beyond the course: your own pictures, class by class, then one of them
        preds, truth = pictures.predictions(tudui, test_dataloader, device)
        lines = pictures.per_class_lines("tudui", preds, truth, classes, pictures.targets_of(train_data),
                                         "more pictures of the smaller classes, or more --epochs, may help")
        print("\n".join(lines))
        picture = pictures.files_of(test_data)[0]
    print(f"next, the model on a picture: {predict_command(path, picture)}")
    print(f"final test accuracy: {test_accuracy:.4f}")


if __name__ == "__main__":
    errors.run(main)
