"""使用resnet34网络 on CIFAR-10 (note 004 "使用resnet34网络验证"; the course's P27-P31 training
套路 with a torchvision network instead of Tudui).

The same training loop, with torchvision's ResNet-34 in place of the course's
Tudui: ``resnet34(weights=None, num_classes=10)``. Two things change compared
with the notes: ``num_classes=10`` (the notes' plain ``resnet34()`` has 1000
outputs for ImageNet; it still trains, 990 of them are wasted), and the model
has BatchNorm, so model.train()/model.eval() now really matter.
ResNet-34 was designed for 224x224 ImageNet photos: on 32x32 CIFAR-10 images
its first layers shrink them to 8x8 at once, so expect it to beat Tudui only
after many epochs on a GPU.

21 million parameters are slow on a CPU: there, a run with no flags is a short
look (--limit 500 --epochs 1, it says so). On a GPU it is the note's full run.

Run:    python 08_train/train_resnet34.py                 (GPU: 20 epochs of all CIFAR-10; CPU: 500 images, 1 epoch)
Full:   python 08_train/train_resnet34.py --limit 50000 --epochs 20   (the note's run, also on a CPU: hours)
Look:   tensorboard --logdir logs
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # lets `import common` work from any folder

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.models import resnet34

from common import cli
from common.data import load_cifar10
from common.device import pick_device
from common.training import save_epoch, start_run, stop_after_interrupt

NOTE_EPOCHS = 20                        # note 004: epoch = 20
CPU_LIMIT, CPU_EPOCHS = 500, 1          # the short look on a CPU


def main():
    p = cli.parser(__doc__.splitlines()[0])
    cli.add_train_args(p, epochs=None)  # None: 20 on an accelerator, 1 on the CPU
    args = p.parse_args()
    torch.manual_seed(args.seed)
    # 定义训练的设备 (note 004: "cuda" if available else "cpu"; pick_device also knows mps/xpu)
    device = pick_device(args.device)
    epochs, limit = args.epochs, args.limit
    if device.type == "cpu":
        limit = limit or CPU_LIMIT
        epochs = epochs or CPU_EPOCHS
        if args.limit is None or args.epochs is None:
            print(f"device: cpu -> a short run: --limit {limit} --epochs {epochs} (ResNet-34 is slow on a "
                  f"CPU; the note's full run: --limit 50000 --epochs {NOTE_EPOCHS})")
    else:
        epochs = epochs or NOTE_EPOCHS
        print(f"device: {device}")

    # 准备数据集 (the same ToTensor pictures as train.py)
    train_data, test_data = load_cifar10(args.data_root, args.offline, transforms.ToTensor(), limit, args.seed)
    test_data_size = len(test_data)
    train_dataloader = DataLoader(train_data, batch_size=args.batch_size, shuffle=True)
    test_dataloader = DataLoader(test_data, batch_size=args.batch_size)

    # 创建网络模型: weights=None trains from scratch; ImageNet weights (weights="DEFAULT",
    # see 06_pretrained) would need 224x224 inputs normalized the ImageNet way to help
    arch = "resnet34"  # recorded in every checkpoint, so predict.py rebuilds this network
    model = resnet34(weights=None, num_classes=10).to(device)
    print(f"resnet34: {sum(p.numel() for p in model.parameters()):,} parameters "
          "(Tudui: 145,578)")

    # 损失函数 / 优化器: the note's CrossEntropyLoss and SGD(lr=0.01)
    loss_fn = nn.CrossEntropyLoss().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)

    run, writer = start_run(args, "train_resnet34", model, optimizer)  # TensorBoard + --resume
    total_train_step, total_test_step = run.total_train_step, run.total_test_step
    log_every = min(100, len(train_dataloader))
    test_accuracy, last_saved = run.resumed_accuracy, None
    try:
        for i in range(run.start_epoch, epochs):
            start = time.perf_counter()
            # train(): BatchNorm normalizes with each batch's own statistics and
            # updates its running averages
            model.train()
            for imgs, targets in train_dataloader:
                imgs = imgs.to(device)
                targets = targets.to(device)
                outputs = model(imgs)
                loss = loss_fn(outputs, targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total_train_step = total_train_step + 1
                if total_train_step % log_every == 0:
                    writer.add_scalar("train_loss", loss.item(), total_train_step)

            # eval(): BatchNorm uses those running averages instead, so a test image's
            # prediction doesn't depend on the other images in its batch
            model.eval()
            total_test_loss = 0.0
            total_accuracy = 0
            with torch.no_grad():
                for imgs, targets in test_dataloader:
                    imgs = imgs.to(device)
                    targets = targets.to(device)
                    outputs = model(imgs)
                    total_test_loss += loss_fn(outputs, targets).item() * len(targets)
                    total_accuracy += (outputs.argmax(1) == targets).sum().item()
            test_loss = total_test_loss / test_data_size
            test_accuracy = total_accuracy / test_data_size
            writer.add_scalar("test_loss", test_loss, total_test_step)
            writer.add_scalar("test_accuracy", test_accuracy, total_test_step)
            total_test_step = total_test_step + 1

            # a ResNet-34 checkpoint is ~85 MB: keeping all 20 (as the notes do) fills 1.7 GB,
            # so only the newest stays (it is all --resume and predict.py need)
            previous = last_saved
            last_saved = save_epoch(run, arch, model, optimizer, i + 1, total_train_step,
                                    total_test_step, test_accuracy)
            if previous is not None:
                previous.unlink(missing_ok=True)
            print(f"epoch {i + 1}/{epochs}: train loss {loss.item():.4f}, test loss {test_loss:.4f}, "
                  f"test accuracy {test_accuracy:.4f}, {time.perf_counter() - start:.1f} s, "
                  f"saved {last_saved.name}", flush=True)
    except KeyboardInterrupt:
        stop_after_interrupt(run, last_saved, epochs, writer)  # prints how to resume, exits 130
    writer.close()
    print(f"final test accuracy: {test_accuracy:.4f}")


if __name__ == "__main__":
    cli.run(main)
