"""完整的模型训练套路, the CPU version (course P27-P29, note 000 "完整训练简单套路",
note 003 "4.6.8 完整模型训练套路 / 1 集显训练", note 004 "训练").

The notes' training script, step by step, on today's PyTorch: CIFAR-10 through
the classic DataLoader + ToTensor, the course's Tudui, CrossEntropyLoss, SGD;
every epoch a training pass (model.train()) and a test pass (model.eval() +
torch.no_grad()), TensorBoard curves and a checkpoint.

Run:    python 08_train/train.py                  (10 epochs, batch 64, SGD lr 0.01, on the CPU)
Quick:  python 08_train/train.py --limit 500 --epochs 2
Look:   tensorboard --logdir logs                 -> train_loss, test_loss, test_accuracy
Next:   train_gpu_1.py (.cuda(), GPU way 1) and train_gpu.py (.to(device), way 2, the main job)
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
from common.device import pick_device
from common.model import Tudui
from common.training import save_epoch, start_run, stop_after_interrupt


def main():
    p = cli.parser(__doc__.splitlines()[0], device=False)
    p.add_argument("--device", default="cpu",
                   help="cpu (default: this is the notes' CPU version), cuda, mps ... "
                        "(train_gpu.py picks the accelerator by itself)")
    cli.add_train_args(p)  # the course's 10 epochs, batch 64, lr 0.01
    args = p.parse_args()
    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    print(f"device: {device}")

    # 准备数据集: ToTensor turns each 32x32 RGB picture into a (3, 32, 32) float tensor in [0, 1]
    train_data, test_data = load_cifar10(args.data_root, args.offline, transforms.ToTensor(),
                                         args.limit, args.seed)
    # len() 获取数据集长度
    train_data_size = len(train_data)
    test_data_size = len(test_data)
    print(f"训练数据集的长度为: {train_data_size}, 测试数据集的长度为: {test_data_size}")

    # 利用 DataLoader 来加载数据集. shuffle=True: new batches every epoch. The notes don't
    # shuffle; that works for CIFAR-10's pre-mixed files, but a folder sorted by class
    # (like the bundled sample) would give batches of a single class each
    train_dataloader = DataLoader(train_data, batch_size=args.batch_size, shuffle=True)
    test_dataloader = DataLoader(test_data, batch_size=args.batch_size)

    # 创建网络模型 (common/model.py holds the notes' Tudui, so predict.py can rebuild it)
    tudui = Tudui().to(device)

    # 损失函数
    loss_fn = nn.CrossEntropyLoss()

    # 优化器
    learning_rate = args.lr
    optimizer = torch.optim.SGD(tudui.parameters(), lr=learning_rate)

    # 添加 tensorboard: start_run makes the SummaryWriter (logs/train/<time>) and, with
    # --resume, restores the model and optimizer from the checkpoint first
    run, writer = start_run(args, "train", tudui, optimizer)

    # 设置训练网络的一些参数: 记录训练的次数 / 记录测试的次数 (continued when resuming)
    total_train_step, total_test_step = run.total_train_step, run.total_test_step
    # 训练的轮数
    epoch = args.epochs
    # the notes log every 100 steps; on a tiny --limit an epoch is shorter than that
    log_every = min(100, len(train_dataloader))
    test_accuracy, last_saved = run.resumed_accuracy, None
    try:
        for i in range(run.start_epoch, epoch):
            print(f"-------第 {i + 1} 轮训练开始 (epoch {i + 1}/{epoch})-------")
            start = time.perf_counter()

            # 训练步骤开始: train() puts Dropout/BatchNorm layers in training mode
            # (Tudui has none, but it's the habit that saves you with models that do)
            tudui.train()
            for data in train_dataloader:
                imgs, targets = data
                imgs, targets = imgs.to(device), targets.to(device)
                outputs = tudui(imgs)
                loss = loss_fn(outputs, targets)

                # 优化器优化模型: backward() *adds* into .grad, so clear it first
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

                total_train_step = total_train_step + 1
                if total_train_step % log_every == 0:
                    # .item(): the 0-d tensor as a plain Python number
                    print(f"训练次数: {total_train_step}, loss: {loss.item():.4f}")
                    writer.add_scalar("train_loss", loss.item(), total_train_step)

            # 测试步骤开始: eval() for Dropout/BatchNorm, no_grad() so no graph is built
            tudui.eval()
            total_test_loss = 0.0
            total_accuracy = 0
            with torch.no_grad():
                for data in test_dataloader:
                    imgs, targets = data
                    imgs, targets = imgs.to(device), targets.to(device)
                    outputs = tudui(imgs)
                    # loss_fn returns the batch *mean*; x batch size gives the batch's sum, so the
                    # per-image mean below doesn't depend on the batch size (the notes add the means)
                    total_test_loss = total_test_loss + loss_fn(outputs, targets).item() * len(targets)
                    # argmax(1): the highest score in each row = the predicted class of each image
                    total_accuracy = total_accuracy + (outputs.argmax(1) == targets).sum().item()
            test_loss = total_test_loss / test_data_size
            test_accuracy = total_accuracy / test_data_size
            print(f"整体测试集上的Loss: {test_loss:.4f}, 整体测试集上的正确率: {test_accuracy:.4f}")
            writer.add_scalar("test_loss", test_loss, total_test_step)
            writer.add_scalar("test_accuracy", test_accuracy, total_test_step)
            total_test_step = total_test_step + 1

            # 保存每一轮的模型: a dict of weights + what --resume and predict.py need,
            # not torch.save(tudui) (see 07_save_load for why)
            last_saved = save_epoch(run, "tudui", tudui, optimizer, i + 1, total_train_step,
                                    total_test_step, test_accuracy)
            print(f"epoch {i + 1}/{epoch}: {time.perf_counter() - start:.1f} s, 模型已保存 {last_saved.name}",
                  flush=True)
    except KeyboardInterrupt:
        stop_after_interrupt(run, last_saved, epoch, writer)  # prints how to resume, exits 130
    writer.close()
    print(f"final test accuracy: {test_accuracy:.4f}")


if __name__ == "__main__":
    cli.run(main)
