"""完整的模型训练套路 + 利用GPU训练 (course P27-P32, note 000 "完整训练简单套路" / "GPU训练",
note 004 "训练" / "利用GPU训练").

The course's whole CIFAR-10 training job, written for today's PyTorch:
prepare data -> build the model -> loss + optimizer -> for each epoch: train,
then test, log to TensorBoard, save a checkpoint.

Run:     python 08_train/train_gpu.py              (10 epochs, batch 64, SGD lr 0.01: the course)
Quick:   python 08_train/train_gpu.py --limit 500 --epochs 2
Better:  python 08_train/train_gpu.py --recipe improved   (the lesson after the course, see README)
Faster:  python 08_train/train_gpu.py --amp               (bfloat16 autocast; see README "Speed")
Look:    tensorboard --logdir logs    -> train_loss (every 100 steps), test_loss, test_accuracy

By default the data goes through a fast path (``common/fastdata.py``: the dataset
decoded once into one uint8 tensor on the device). ``--loader classic`` runs the
course's ``DataLoader`` + ``ToTensor`` loop instead (see also ``train.py``);
both feed the same loop below with the same batches.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # lets `import common` work from any folder

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torchvision import transforms
from tqdm import tqdm

from common import cli
from common.data import load_cifar10
from common.device import pick_device
from common.fastdata import TensorBatches, as_uint8_tensors
from common.model import build_model
from common.training import save_epoch, start_run, stop_after_interrupt

# Each recipe: model + optimizer settings. "course" is exactly the notes' setup.
RECIPES = {
    "course":   dict(arch="tudui", epochs=10, lr=1e-2),
    "improved": dict(arch="tudui_bn", epochs=24, lr=0.1),
}


def random_crop_flip(x, pad=4):
    """Augmentation on the device, a whole batch at once: reflect-pad by ``pad``
    pixels, crop a random 32x32 window per image, flip half the images left-right."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy = torch.randint(0, 2 * pad + 1, (n, 1, 1, 1), device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n, 1, 1, 1), device=x.device)
    rows = (dy + torch.arange(h, device=x.device).view(1, 1, h, 1)).expand(n, c, h, w + 2 * pad)
    out = padded.gather(2, rows)
    cols = (dx + torch.arange(w, device=x.device).view(1, 1, 1, w)).expand(n, c, h, w)
    out = out.gather(3, cols)
    flip = torch.rand(n, 1, 1, 1, device=x.device) < 0.5
    return torch.where(flip, out.flip(3), out)


def main():
    p = cli.parser(__doc__.splitlines()[0])
    cli.add_train_args(p, epochs=None, lr=None)
    p.add_argument("--recipe", choices=RECIPES, default="course",
                   help="course: the notes' model and SGD; improved: BatchNorm+ReLU, augmentation, "
                        "momentum, one-cycle schedule, label smoothing")
    p.add_argument("--loader", choices=("fast", "classic"), default="fast",
                   help="fast: whole dataset as one uint8 tensor on the device (default); "
                        "classic: the course's DataLoader + ToTensor")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                   help="NHWC memory layout for model and batches with the fast loader "
                        "(default on: measured faster for these convolutions, see benchmark.py)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (slow start, faster steps)")
    p.add_argument("--amp", action="store_true",
                   help="mixed precision: run the model in bfloat16 under torch.autocast (fast on GPUs and "
                        "on CPUs with native bf16, e.g. AVX512-BF16/AMX; slow on other CPUs)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random crop + flip on the device (default: on for --recipe improved)")
    args = p.parse_args()
    recipe = RECIPES[args.recipe]
    epochs = args.epochs or recipe["epochs"]
    learning_rate = args.lr or recipe["lr"]
    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    print(f"device: {device}, recipe: {args.recipe}, loader: {args.loader}")

    # 准备数据集: ToTensor turns a 32x32 RGB image (HWC, uint8 0-255) into a (3, 32, 32) float in [0, 1]
    train_data, test_data = load_cifar10(args.data_root, args.offline, transforms.ToTensor(),
                                         args.limit, args.seed)
    train_data_size, test_data_size = len(train_data), len(test_data)

    # 利用 DataLoader 加载数据集 (or the fast path, which yields the same batches)
    t0 = time.perf_counter()
    if args.loader == "classic":
        # shuffle=True: the course doesn't shuffle, but a fixed order teaches the model the order
        train_dataloader = DataLoader(train_data, batch_size=args.batch_size, shuffle=True)
        test_dataloader = DataLoader(test_data, batch_size=args.batch_size)
    else:
        train_dataloader = TensorBatches(*as_uint8_tensors(train_data), args.batch_size, shuffle=True,
                                         device=device, channels_last=args.channels_last)
        # evaluation keeps no activations for backward, so much bigger batches are fine
        test_dataloader = TensorBatches(*as_uint8_tensors(test_data), 1000, shuffle=False,
                                        device=device, channels_last=args.channels_last)
        print(f"fast path: {train_data_size + test_data_size} images decoded and moved to {device} "
              f"in {time.perf_counter() - t0:.1f} s")

    # 创建网络模型
    arch = recipe["arch"]
    tudui = build_model(arch).to(device)
    if args.channels_last and args.loader == "fast":
        tudui = tudui.to(memory_format=torch.channels_last)

    # 损失函数: cross-entropy takes raw scores (logits) and class indices
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1 if args.recipe == "improved" else 0.0)

    # 优化器
    if args.recipe == "course":
        optimizer = torch.optim.SGD(tudui.parameters(), lr=learning_rate)
        scheduler = None
    else:
        optimizer = torch.optim.SGD(tudui.parameters(), lr=learning_rate, momentum=0.9,
                                    nesterov=True, weight_decay=5e-4)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=learning_rate, epochs=epochs, steps_per_epoch=len(train_dataloader))

    # 添加 tensorboard: start_run makes the SummaryWriter (logs/train_gpu/<time>) and, with
    # --resume, restores model, optimizer and scheduler from the checkpoint first
    run, writer = start_run(args, "train_gpu", tudui, optimizer, scheduler)
    if scheduler is not None and scheduler.total_steps != epochs * len(train_dataloader):
        raise cli.LessonError(f"--resume: this one-cycle schedule was planned for {scheduler.total_steps} "
                              f"steps; resume with the run's own --epochs and --batch-size")
    # 设置训练网络的一些参数: the course's step counters, continued when resuming
    total_train_step, total_test_step = run.total_train_step, run.total_test_step
    step_fn = torch.compile(tudui) if args.compile else tudui
    augment = args.recipe == "improved" if args.augment is None else args.augment
    # autocast runs convs/matmuls in bfloat16 (half the bytes, native bf16 units) and keeps
    # the weights and the loss in float32; enabled=False makes it a no-op
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp)

    # the course logs train_loss every 100 steps; on a tiny subset an epoch can be shorter than that
    log_every = min(100, len(train_dataloader))
    test_accuracy, last_saved = run.resumed_accuracy, None
    try:
        for i in range(run.start_epoch, epochs):
            start = time.perf_counter()
            # 训练步骤开始: train() switches BatchNorm/Dropout to training behaviour
            tudui.train()
            for imgs, targets in tqdm(train_dataloader, desc=f"epoch {i + 1}/{epochs}", leave=False,
                                      disable=None):
                imgs, targets = imgs.to(device), targets.to(device)
                if augment:
                    imgs = random_crop_flip(imgs)
                with autocast():
                    outputs = step_fn(imgs)
                    loss = loss_fn(outputs, targets)

                # 优化器优化模型: zero_grad first, because backward() *adds* into .grad
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                total_train_step += 1
                if total_train_step % log_every == 0:
                    # .item() turns the 0-d tensor into a Python float (and drops the graph)
                    writer.add_scalar("train_loss", loss.item(), total_train_step)

            # 测试步骤开始: eval() + no_grad(): no dropout/BN updates, no graph kept
            tudui.eval()
            total_test_loss = 0.0
            total_accuracy = 0
            with torch.no_grad():
                for imgs, targets in test_dataloader:
                    imgs, targets = imgs.to(device), targets.to(device)
                    with autocast():
                        outputs = step_fn(imgs).float()
                    # sum over samples (not batches), so the mean below doesn't depend on batch size
                    total_test_loss += F.cross_entropy(outputs, targets, reduction="sum").item()
                    total_accuracy += (outputs.argmax(1) == targets).sum().item()
            test_loss = total_test_loss / test_data_size
            test_accuracy = total_accuracy / test_data_size  # divided by what was really evaluated
            writer.add_scalar("test_loss", test_loss, total_test_step)
            writer.add_scalar("test_accuracy", test_accuracy, total_test_step)
            total_test_step += 1
            writer.flush()

            # save a checkpoint every epoch: a dict of tensors and numbers, so
            # torch.load(path, weights_only=True) can read it back safely
            last_saved = save_epoch(run, arch, tudui, optimizer, i + 1, total_train_step, total_test_step,
                                    test_accuracy, recipe=args.recipe,
                                    scheduler=scheduler.state_dict() if scheduler else None)
            print(f"epoch {i + 1}/{epochs}: train loss {loss.item():.4f}, test loss {test_loss:.4f}, "
                  f"test accuracy {test_accuracy:.4f}, {time.perf_counter() - start:.1f} s, "
                  f"saved {last_saved.name}", flush=True)
    except KeyboardInterrupt:
        stop_after_interrupt(run, last_saved, epochs, writer)  # prints how to resume, exits 130
    writer.close()
    print(f"final test accuracy: {test_accuracy:.4f}")


if __name__ == "__main__":
    cli.run(main)
