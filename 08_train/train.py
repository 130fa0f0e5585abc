"""完整的模型训练套路 on the CPU: the course's CIFAR-10 training script (P27-P29, note 000 "完整训练简单套路").

Run:    python 08_train/train.py                  (10 epochs, batch 64, SGD lr 0.01, on the CPU)
Quick:  python 08_train/train.py --limit 500 --epochs 2    (then: tensorboard --logdir logs)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

import time

from common import cli, errors
from common.beyond_course import runs
from common.data import cifar10_download, cifar10_root, instead_of_download, limit_dataset
from common.model import Tudui

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter

COURSE = {"model": "tudui", "epochs": 10, "batch_size": 64, "lr": 1e-2, "seed": 0}  # the notes' values
SCRIPT = Path(__file__).stem  # this file's name: its runs go to logs/<name>/ and checkpoints/<name>/


def main():
    args = runs.add_train_args(cli.parser(__doc__, device=False), COURSE).parse_args()
    # beyond the course: --resume continues a run from its checkpoint, with that run's settings
    resumed = runs.load_for_resume(args.resume, SCRIPT, COURSE, runs.given(args), args.checkpoint_dir)
    s = runs.settings(COURSE, runs.given(args), resumed)  # the flags, else the resumed run's, else COURSE
    torch.manual_seed(s.seed)  # same seed, same starting weights and batches
    root = cifar10_root(s.data_root)  # 准备数据集 (in dataset/ under the repo root, or --data-root)
    dataset_transform = torchvision.transforms.ToTensor()  # PIL picture -> tensor of 0..1 (named as in the notes)
    try:
        with cifar10_download(root, offline=args.offline):
            train_data = torchvision.datasets.CIFAR10(root, train=True, transform=dataset_transform, download=True)
            test_data = torchvision.datasets.CIFAR10(root, train=False, transform=dataset_transform, download=True)
    except (OSError, RuntimeError) as exc:  # beyond the course: no network, --offline ...: the bundled sample
        train_data = instead_of_download(exc, root, True, dataset_transform)
        test_data = instead_of_download(exc, root, False, dataset_transform)
    train_data, test_data = limit_dataset(train_data, s.limit), limit_dataset(test_data, s.limit)  # --limit
    train_data_size = len(train_data)  # len() 获取数据集长度
    test_data_size = len(test_data)
    print(f"训练数据集的长度为: {train_data_size}")
    print(f"测试数据集的长度为: {test_data_size}")
    trained_on = runs.note_data(train_data, s, resumed)  # on the bundled sample: what accuracy to expect
    train_dataloader = DataLoader(train_data, batch_size=s.batch_size, shuffle=True)  # 利用 DataLoader 来加载数据集
    test_dataloader = DataLoader(test_data, batch_size=s.batch_size)
    tudui = Tudui()  # 创建网络模型 (common/model.py: the notes' Tudui, so predict.py can rebuild it)
    loss_fn = nn.CrossEntropyLoss()  # 损失函数
    learning_rate = s.lr  # 优化器
    optimizer = torch.optim.SGD(tudui.parameters(), lr=learning_rate)
    # 设置训练网络的一些参数
    total_train_step = 0  # 记录训练的次数
    total_test_step = 0  # 记录测试的次数
    epoch = s.epochs  # 训练的轮数
    if resumed:  # beyond the course: --resume goes on where its checkpoint ended (P26 模型加载)
        with runs.loading(resumed):  # a checkpoint that does not fit: one line
            tudui.load_state_dict(resumed["model"])
            optimizer.load_state_dict(resumed["optimizer"])
            torch.set_rng_state(resumed["rng_state"])  # the same shuffles as an unbroken run
            total_train_step, total_test_step = resumed["total_train_step"], resumed["total_test_step"]
    # beyond the course: logs/ and checkpoints/train/<time>, a folder per run (--resume: the run's own)
    logdir, checkpoint_dir = runs.make_folders(SCRIPT, s, resumed, args.logdir, args.checkpoint_dir, args.overwrite)
    writer = SummaryWriter(logdir, purge_step=total_train_step if resumed else None)  # 添加tensorboard
    with runs.keep_finished_epochs(writer, checkpoint_dir):  # beyond the course: Ctrl-C keeps finished epochs
        for i in range(resumed["epoch"] if resumed else 0, epoch):  # (--resume: from where it ended)
            print(f"-------第 {i + 1} 轮训练开始-------")
            start, train_loss_sum = time.perf_counter(), 0.0
            tudui.train()  # 训练步骤开始: train() puts Dropout/BatchNorm layers in training mode
            for data in train_dataloader:
                imgs, targets = data
                outputs = tudui(imgs)
                loss = loss_fn(outputs, targets)
                # 优化器优化模型: backward() *adds* into .grad, so clear it first
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                train_loss_sum = train_loss_sum + loss.item() * len(targets)  # .item(): a plain number
                total_train_step = total_train_step + 1
                if total_train_step % min(100, len(train_dataloader)) == 0:  # (a tiny --limit: < 100 steps)
                    print(f"训练次数: {total_train_step}, Loss: {loss.item():.4f}")
                    writer.add_scalar("train_loss", loss.item(), total_train_step)
            tudui.eval()  # 测试步骤开始: eval() for Dropout/BatchNorm, no_grad() so no graph is built
            total_test_loss = 0.0
            total_accuracy = 0
            with torch.no_grad():
                for data in test_dataloader:
                    imgs, targets = data
                    outputs = tudui(imgs)  # loss x batch size: the batch's sum (the mean: per image, below)
                    total_test_loss = total_test_loss + loss_fn(outputs, targets).item() * len(targets)
                    total_accuracy = total_accuracy + (outputs.argmax(1) == targets).sum().item()
            test_loss, test_accuracy = total_test_loss / test_data_size, total_accuracy / test_data_size
            print(f"整体测试集上的Loss: {test_loss:.4f}")
            print(f"整体测试集上的正确率: {test_accuracy:.4f}")
            writer.add_scalar("test_loss", test_loss, total_test_step)
            writer.add_scalar("test_accuracy", test_accuracy, total_test_step)
            total_test_step = total_test_step + 1
            # 保存每一轮的模型: a dict that torch.load(..., weights_only=True) reads safely, renamed when whole
            path, train_loss = checkpoint_dir / f"tudui_{i + 1}.pth", train_loss_sum / train_data_size
            ckpt = {"arch": "tudui", "model": tudui.state_dict(), "optimizer": optimizer.state_dict(), "epoch": i + 1}
            ckpt |= {"total_train_step": total_train_step, "total_test_step": total_test_step}  # (--resume)
            ckpt |= {"test_accuracy": test_accuracy, "train_loss": train_loss, "rng_state": torch.get_rng_state()}
            ckpt |= {"settings": vars(s), "data": trained_on, "script": SCRIPT, "logdir": str(logdir)}
            torch.save(ckpt, path.with_suffix(".tmp"))
            path.with_suffix(".tmp").replace(path)  # (os.replace: the whole file, or the old one)
            print(runs.epoch_line(i + 1, epoch, train_loss, time.perf_counter() - start))  # loss, time
            print(f"模型已保存 {path.name}", flush=True)
    writer.close()
    print(f"final test accuracy: {test_accuracy:.4f}")


if __name__ == "__main__":
    errors.run(main)
