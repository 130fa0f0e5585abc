"""利用GPU训练, way 1: .cuda() (course P30-P31 利用GPU训练, way 1 = P30; note 000 "GPU训练",
note 003 "4.6.8 / 2 GPU训练 方式一").

The same training as train.py, moved to an NVIDIA GPU the course's first way:
call .cuda() on the three things that compute, the network model, the loss
function and every batch of data (images and labels), each time only
``if torch.cuda.is_available()``. Without a CUDA GPU it says so and trains on
the CPU. Way 2 (``.to(device)``, P31) is train_gpu.py; it also covers Apple
(mps) and Intel (xpu) GPUs, which ``.cuda()`` can't reach.

Run:    python 08_train/train_gpu_1.py               (10 epochs, batch 64, SGD lr 0.01: the course)
Quick:  python 08_train/train_gpu_1.py --limit 500 --epochs 2
Look:   tensorboard --logdir logs                    -> train_loss, test_loss, test_accuracy
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # lets `import common` work from any folder

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms

from common import cli
from common.data import load_cifar10
from common.model import Tudui
from common.training import save_epoch, start_run, stop_after_interrupt


def main():
    p = cli.parser(__doc__.splitlines()[0], device=False)  # way 1 has no device choice: CUDA or CPU
    cli.add_train_args(p)
    args = p.parse_args()
    torch.manual_seed(args.seed)

    # asked once: is there an NVIDIA GPU that this PyTorch build can use?
    use_cuda = torch.cuda.is_available()
    if use_cuda:
        print(f"CUDA GPU: {torch.cuda.get_device_name(0)} -> model, loss and data go there with .cuda()")
    else:
        print("no CUDA GPU here (torch.cuda.is_available() is False) -> training on the CPU; "
              "for Apple/Intel GPUs see train_gpu.py (way 2, .to(device))")

    # 准备数据集
    train_data, test_data = load_cifar10(args.data_root, args.offline, transforms.ToTensor(),
                                         args.limit, args.seed)
    train_data_size = len(train_data)
    test_data_size = len(test_data)
    print(f"训练数据集的长度为: {train_data_size}, 测试数据集的长度为: {test_data_size}")
    # pin_memory: page-locked host memory makes the copies to the GPU faster
    train_dataloader = DataLoader(train_data, batch_size=args.batch_size, shuffle=True, pin_memory=use_cuda)
    test_dataloader = DataLoader(test_data, batch_size=args.batch_size, pin_memory=use_cuda)

    # 创建网络模型 -> .cuda() (1) the network: moves every parameter to the GPU
    tudui = Tudui()
    if use_cuda:
        tudui = tudui.cuda()

    # 损失函数 -> .cuda() (2) the loss (it has no parameters, so this is a no-op kept for the
    # course's pattern; losses with weights, e.g. CrossEntropyLoss(weight=...), do need it)
    loss_fn = nn.CrossEntropyLoss()
    if use_cuda:
        loss_fn = loss_fn.cuda()

    # 优化器: built *after* .cuda(), so it holds the GPU copies of the parameters
    optimizer = torch.optim.SGD(tudui.parameters(), lr=args.lr)

    # TensorBoard + --resume (load_state_dict copies CPU-loaded weights onto the GPU ones)
    run, writer = start_run(args, "train_gpu_1", tudui, optimizer)
    total_train_step, total_test_step = run.total_train_step, run.total_test_step
    epoch = args.epochs
    log_every = min(100, len(train_dataloader))
    test_accuracy, last_saved = run.resumed_accuracy, None
    try:
        for i in range(run.start_epoch, epoch):
            start = time.perf_counter()
            # 训练步骤开始
            tudui.train()
            for imgs, targets in train_dataloader:
                # .cuda() (3) the data: every batch, images *and* labels. Unlike a model,
                # a tensor's .cuda() returns a copy, so it must be assigned back
                if use_cuda:
                    imgs = imgs.cuda()
                    targets = targets.cuda()
                outputs = tudui(imgs)
                loss = loss_fn(outputs, targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total_train_step = total_train_step + 1
                if total_train_step % log_every == 0:
                    writer.add_scalar("train_loss", loss.item(), total_train_step)

            # 测试步骤开始: the test data goes to the GPU too
            tudui.eval()
            total_test_loss = 0.0
            total_accuracy = 0
            with torch.no_grad():
                for imgs, targets in test_dataloader:
                    if use_cuda:
                        imgs = imgs.cuda()
                        targets = targets.cuda()
                    outputs = tudui(imgs)
                    total_test_loss += loss_fn(outputs, targets).item() * len(targets)
                    # .item() brings the count back to the CPU as a Python int
                    total_accuracy += (outputs.argmax(1) == targets).sum().item()
            test_loss = total_test_loss / test_data_size
            test_accuracy = total_accuracy / test_data_size
            writer.add_scalar("test_loss", test_loss, total_test_step)
            writer.add_scalar("test_accuracy", test_accuracy, total_test_step)
            total_test_step = total_test_step + 1

            # state_dict() of a GPU model holds GPU tensors; predict.py loads them with map_location
            last_saved = save_epoch(run, "tudui", tudui, optimizer, i + 1, total_train_step,
                                    total_test_step, test_accuracy)
            print(f"epoch {i + 1}/{epoch}: train loss {loss.item():.4f}, test loss {test_loss:.4f}, "
                  f"test accuracy {test_accuracy:.4f}, {time.perf_counter() - start:.1f} s, "
                  f"saved {last_saved.name}", flush=True)
    except KeyboardInterrupt:
        stop_after_interrupt(run, last_saved, epoch, writer)  # prints how to resume, exits 130
    writer.close()
    print(f"final test accuracy: {test_accuracy:.4f}")


if __name__ == "__main__":
    cli.run(main)
