"""利用GPU训练, way 1: the same training as train.py, moved to an NVIDIA GPU with .cuda().

Course P30 利用GPU训练（一）; note 000 "GPU训练", note 003 "4.6.8 / 2 GPU训练 方式一". The
course's first way: call .cuda() on the three things that compute, the
network model, the loss function and every batch of data (images and labels),
each time only ``if torch.cuda.is_available()``. Without a CUDA GPU it says so
and trains on the CPU. Way 2 (``.to(device)``, P31) is train_gpu.py; it also
covers Apple (mps) and Intel (xpu) GPUs, which ``.cuda()`` can't reach.

Run:    python 08_train/train_gpu_1.py               (10 epochs, batch 64, SGD lr 0.01: the course)
Quick:  python 08_train/train_gpu_1.py --limit 500 --epochs 2
Look:   tensorboard --logdir logs                    -> train_loss, test_loss, test_accuracy
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # lets `import common` work from any folder
import common  # noqa: F401  (first: a Ctrl-C while torch loads then ends in one line)

# isort: split
import os
import time

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter

from common import cli, errors
from common.beyond_course import runs
from common.data import cifar10
from common.model import Tudui

COURSE = {"model": "tudui", "epochs": 10, "batch_size": 64, "lr": 1e-2, "seed": 0}  # the notes' values


def main():
    p = cli.parser(__doc__, device=False)
    cli.add_train_args(p, epochs=COURSE["epochs"], batch_size=COURSE["batch_size"], lr=COURSE["lr"])
    args = p.parse_args()
    # beyond the course: the run's settings (the flags, else the course's values; with --resume, the
    # resumed run's own), its folders, and the checkpoint it continues
    run = runs.Run("train_gpu_1", COURSE, **cli.run_flags(args))
    s = run.settings
    torch.manual_seed(s.seed)  # same seed, same starting weights and batches

    # asked once: is there an NVIDIA GPU that this PyTorch build can use?
    use_cuda = torch.cuda.is_available()
    if use_cuda:
        print(f"CUDA GPU: {torch.cuda.get_device_name(0)} -> model, loss and data go there with .cuda()")
    else:
        print("no CUDA GPU here (torch.cuda.is_available() is False) -> training on the CPU; "
              "for Apple/Intel GPUs see train_gpu.py (way 2, .to(device))")

    # 准备数据集. The course: torchvision.datasets.CIFAR10("./dataset", train=True,
    # transform=torchvision.transforms.ToTensor(), download=True); cifar10() is that call, into
    # dataset/ under the repo root, or the bundled sample when there is no network
    train_data = cifar10(s.data_root, train=True, transform=torchvision.transforms.ToTensor(),
                         download=not args.offline, limit=s.limit)
    test_data = cifar10(s.data_root, train=False, transform=torchvision.transforms.ToTensor(),
                        download=not args.offline, limit=s.limit)
    # len() 获取数据集长度
    train_data_size = len(train_data)
    test_data_size = len(test_data)
    print(f"训练数据集的长度为: {train_data_size}")
    print(f"测试数据集的长度为: {test_data_size}")
    run.note_data(train_data)  # on the bundled sample: says what accuracy to expect, and why

    # 利用 DataLoader 来加载数据集. shuffle=True: new batches every epoch. The notes don't
    # shuffle; that works for CIFAR-10's pre-mixed files, but a folder sorted by class
    # (like the bundled sample) would give batches of a single class each
    train_dataloader = DataLoader(train_data, batch_size=s.batch_size, shuffle=True)
    test_dataloader = DataLoader(test_data, batch_size=s.batch_size)

    # 创建网络模型 (common/model.py holds the notes' Tudui, so predict.py can rebuild it)
    tudui = Tudui()
    if use_cuda:
        tudui = tudui.cuda()  # .cuda() (1) the network: moves every parameter to the GPU

    # 损失函数
    loss_fn = nn.CrossEntropyLoss()
    if use_cuda:
        # .cuda() (2) the loss: it has no parameters, so this is a no-op kept for the course's
        # pattern; losses with weights, e.g. CrossEntropyLoss(weight=...), do need it
        loss_fn = loss_fn.cuda()

    # 优化器: built *after* .cuda(), so it holds the GPU copies of the parameters
    learning_rate = s.lr
    optimizer = torch.optim.SGD(tudui.parameters(), lr=learning_rate)
    if run.checkpoint:  # beyond the course: --resume continues from the checkpoint (P26 模型加载)
        with run.loading():
            tudui.load_state_dict(run.checkpoint["model"])
            optimizer.load_state_dict(run.checkpoint["optimizer"])
            torch.set_rng_state(run.checkpoint["rng_state"])  # the same shuffles as an unbroken run

    # 设置训练网络的一些参数
    total_train_step = run.total_train_step  # 记录训练的次数 (continued when resuming)
    total_test_step = run.total_test_step    # 记录测试的次数
    epoch = s.epochs                         # 训练的轮数
    # the notes log every 100 steps; on a tiny --limit an epoch is shorter than that
    log_every = min(100, len(train_dataloader))

    # 添加tensorboard: one folder per run (logs/train/<time>), so `tensorboard --logdir logs`
    # shows each run as its own curve. purge_step (beyond the course): on --resume, drop the
    # points a stopped run wrote after its last checkpoint
    run.start()
    writer = SummaryWriter(run.logdir, purge_step=run.purge_step)

    test_accuracy = run.test_accuracy
    with run.stop_cleanly(writer):  # beyond the course: Ctrl-C keeps finished epochs, says how to resume
        for i in range(run.start_epoch, epoch):
            print(f"-------第 {i + 1} 轮训练开始-------")
            start = time.perf_counter()

            # 训练步骤开始: train() puts Dropout/BatchNorm layers in training mode
            # (Tudui has none, but it's the habit that saves you with models that do)
            tudui.train()
            train_loss_sum = 0.0
            for data in train_dataloader:
                imgs, targets = data
                if use_cuda:
                    # .cuda() (3) the data: every batch, images *and* labels. Unlike a model,
                    # a tensor's .cuda() returns a copy, so it must be assigned back
                    imgs = imgs.cuda()
                    targets = targets.cuda()
                outputs = tudui(imgs)
                loss = loss_fn(outputs, targets)

                # 优化器优化模型: backward() *adds* into .grad, so clear it first
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

                # .item(): the 0-d tensor as a plain Python number
                train_loss_sum = train_loss_sum + loss.item() * len(targets)
                total_train_step = total_train_step + 1
                if total_train_step % log_every == 0:
                    print(f"训练次数: {total_train_step}, Loss: {loss.item():.4f}")
                    writer.add_scalar("train_loss", loss.item(), total_train_step)

            # 测试步骤开始: eval() for Dropout/BatchNorm, no_grad() so no graph is built
            tudui.eval()
            total_test_loss = 0.0
            total_accuracy = 0
            with torch.no_grad():
                for data in test_dataloader:
                    imgs, targets = data
                    if use_cuda:
                        imgs = imgs.cuda()
                        targets = targets.cuda()
                    outputs = tudui(imgs)
                    # loss_fn returns the batch *mean*; x batch size gives the batch's sum, so the
                    # per-image mean below doesn't depend on the batch size (the notes add the means)
                    total_test_loss = total_test_loss + loss_fn(outputs, targets).item() * len(targets)
                    # argmax(1): the highest score in each row = the predicted class of each image
                    total_accuracy = total_accuracy + (outputs.argmax(1) == targets).sum().item()
            test_loss = total_test_loss / test_data_size
            test_accuracy = total_accuracy / test_data_size
            print(f"整体测试集上的Loss: {test_loss:.4f}")
            print(f"整体测试集上的正确率: {test_accuracy:.4f}")
            writer.add_scalar("test_loss", test_loss, total_test_step)
            writer.add_scalar("test_accuracy", test_accuracy, total_test_step)
            total_test_step = total_test_step + 1

            # 保存每一轮的模型. Not torch.save(tudui) (07_save_load shows why): a dict of tensors and
            # plain values, which torch.load(..., weights_only=True) reads back safely: the weights
            # (方式2, state_dict) and what --resume needs to go on where this epoch ended; run.record()
            # adds the run's settings and data for --resume and predict.py. Beyond the course: written
            # to a temp file and renamed, so a crash while saving never leaves half a checkpoint
            train_loss = train_loss_sum / train_data_size
            path = run.checkpoint_dir / f"tudui_{i + 1}.pth"
            torch.save({"arch": "tudui", "model": tudui.state_dict(), "optimizer": optimizer.state_dict(),
                        "epoch": i + 1, "total_train_step": total_train_step, "total_test_step": total_test_step,
                        "test_accuracy": test_accuracy, "train_loss": train_loss,
                        "rng_state": torch.get_rng_state(), **run.record()}, path.with_suffix(".tmp"))
            os.replace(path.with_suffix(".tmp"), path)
            print(f"epoch {i + 1}/{epoch}: train loss {train_loss:.4f} (epoch mean), "
                  f"{time.perf_counter() - start:.1f} s, 模型已保存 {path.name}", flush=True)
    print(f"final test accuracy: {test_accuracy:.4f}")


if __name__ == "__main__":
    errors.run(main)
