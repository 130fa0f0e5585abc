"""优化器: torch.optim.SGD with zero_grad / backward / step, epoch after epoch.

Note 000 §优化器的使用 torch.optim, note 002 p24 优化器, note 003 §4.6.6 优化器;
course P24 优化器.

Each step: zero_grad() clears the old gradients (backward() ADDS into .grad),
backward() computes new ones from this batch's loss, step() moves every
weight a little against its gradient (SGD: w = w - lr * w.grad). Going over
the same images again (epochs), the summed loss should go down.

Run:     python 05_loss_optim/nn_optim.py          (500 images, 3 epochs, batch 1, lr 0.01: ~15 s)
Course:  python 05_loss_optim/nn_optim.py --limit 10000 --epochs 20   (the whole test set: ~1 h on a CPU)
Look:    tensorboard --logdir logs -> SCALARS: epoch_loss_sum
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors
from common.data import cifar10_download, cifar10_root, instead_of_download, limit_dataset
from common.device import pick_device
from common.model import Tudui
from common.paths import lesson_logdir

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter


def main():
    p = cli.parser(__doc__, seed=True)
    p.add_argument("--epochs", type=cli.positive_int, default=3, help=_("default 3 (the course: 20)"))
    p.add_argument("--batch-size", type=cli.positive_int, default=1, help=_("default 1, as the course"))
    p.add_argument("--lr", type=cli.positive_float, default=0.01, help=_("learning rate, default 0.01, as the course"))
    # The course trains on all 10,000 test images; a 500-image subset (the whole
    # bundled sample) keeps the default run short (--limit 10000: the course's run).
    p.set_defaults(limit=500)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    print(_("device: {device}").format(device=device))
    if device.type == "cpu" and args.batch_size < 16:
        # A step on a handful of images is too little work to share between CPU
        # threads: handing it over costs more than it saves (5-30x slower on a
        # busy 2-core machine). Larger batches on an idle machine gain from threads.
        torch.set_num_threads(1)

    # the course's call, into dataset/ under the repo root (its "./dataset"), or --data-root
    root = cifar10_root(args.data_root)
    try:
        with cifar10_download(root, offline=args.offline):
            test_set = torchvision.datasets.CIFAR10(
                root, train=False, transform=torchvision.transforms.ToTensor(), download=True
            )
    except (OSError, RuntimeError) as exc:  # beyond the course: no network, --offline ...: the bundled sample
        test_set = instead_of_download(exc, root, False, torchvision.transforms.ToTensor())
    test_set = limit_dataset(test_set, args.limit)  # --limit N: N of its images
    # shuffle: a new order every epoch (the bundled sample is stored class by class;
    # in that order, batch-1 SGD just learns "same class as the last image")
    dataloader = DataLoader(test_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    if len(dataloader) == 0:
        raise errors.LessonError(
            _("{n} images make no full batch of {batch_size}: lower --batch-size or raise --limit").format(
                n=len(test_set), batch_size=args.batch_size
            )
        )

    tudui = Tudui().to(device)
    loss = nn.CrossEntropyLoss()
    optim = torch.optim.SGD(tudui.parameters(), lr=args.lr)

    logdir = lesson_logdir(__file__, args.logdir)
    writer = SummaryWriter(str(logdir))
    print(f"tensorboard: {logdir}")
    for epoch in range(args.epochs):
        start = time.perf_counter()
        running_loss = 0.0
        for imgs, targets in dataloader:
            imgs, targets = imgs.to(device), targets.to(device)
            outputs = tudui(imgs)
            result_loss = loss(outputs, targets)
            optim.zero_grad()  # before backward(): otherwise this step's gradient adds to the last one's
            result_loss.backward()  # fills .grad of every weight
            optim.step()  # w = w - lr * w.grad
            # The course writes running_loss = running_loss + result_loss, adding
            # TENSORS: the sum carries a grad_fn (it prints as tensor(18721.0879,
            # grad_fn=<AddBackward0>)) and chains one autograd node per step for
            # the whole epoch; without the backward() that frees each step's saved
            # activations (e.g. when only evaluating) it keeps them all in memory.
            # .item() copies the value out as a plain Python float.
            running_loss += result_loss.item()
        writer.add_scalar("epoch_loss_sum", running_loss, epoch)
        print(
            _("epoch {epoch}/{epochs}: loss sum {loss:.4f} over {batches} batches, {seconds:.1f} s").format(
                epoch=epoch + 1,
                epochs=args.epochs,
                loss=running_loss,
                batches=len(dataloader),
                seconds=time.perf_counter() - start,
            ),
            flush=True,
        )
    writer.close()


if __name__ == "__main__":
    errors.run(main)
