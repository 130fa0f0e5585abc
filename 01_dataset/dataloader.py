"""DataLoader的使用: batches from the CIFAR-10 test set, two epochs of them into TensorBoard.

Course P15; note 000 "DataLoader的使用", note 001 "一、准备数据：Dataset & Dataloader" 1.2.

A Dataset hands out one sample at a time; a DataLoader packs them into
batches: batch_size samples stacked into one tensor, shuffled every epoch if
asked, optionally read by worker processes, and the last short batch dropped
if drop_last=True.

Run:     python 01_dataset/dataloader.py           (CIFAR-10, or the bundled sample offline: 500 test images)
Windows: python 01_dataset/dataloader.py --num-workers 2   (workers need the __main__ guard: see the end)
Try:     python 01_dataset/dataloader.py --num-workers 2 --batch-size 16
Look:    tensorboard --logdir logs  -> IMAGES: "Epoch: 0", "Epoch: 1"; drag the step slider:
         each step is one batch of 64, and the same step shows different images in the two
         epochs because shuffle=True reshuffles every epoch.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors
from common.data import cifar10_download, cifar10_root, instead_of_download, limit_dataset
from common.model import CIFAR10_CLASSES
from common.paths import lesson_logdir

import torch
import torchvision
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter


def main():
    p = cli.parser(__doc__, device=False, seed=True)
    p.add_argument("--batch-size", type=cli.positive_int, default=64, help=_("default 64 (the course)"))
    p.add_argument(
        "--num-workers",
        type=cli.non_negative_int,
        default=0,
        help=_("worker processes reading samples (default 0: the main process does it)"),
    )
    args = p.parse_args()
    torch.manual_seed(args.seed)  # fixes the shuffle order, so two runs give the same batches

    # the course's call, into dataset/ under the repo root (its "./dataset"), or --data-root
    root = cifar10_root(args.data_root)
    dataset_transform = torchvision.transforms.Compose([torchvision.transforms.ToTensor()])
    try:
        with cifar10_download(root, offline=args.offline):
            test_data = torchvision.datasets.CIFAR10(root=root, train=False, transform=dataset_transform, download=True)
    except (OSError, RuntimeError) as exc:  # beyond the course: no network, --offline ...: the bundled sample
        test_data = instead_of_download(exc, root, False, dataset_transform)
    test_data = limit_dataset(test_data, args.limit)  # --limit N: N of its images
    classes = CIFAR10_CLASSES

    img, target = test_data[0]
    print(
        _("test_data[0]: img {shape}, target {target} ({name})").format(
            shape=tuple(img.shape), target=target, name=classes[target]
        )
    )

    test_loader = DataLoader(
        dataset=test_data,
        batch_size=args.batch_size,  # samples per batch
        shuffle=True,  # a new order every epoch
        num_workers=args.num_workers,  # 0 = load in this process; >0 = that many worker processes
        drop_last=True,  # drop the last batch if it has fewer than batch_size samples
    )
    n = len(test_data)
    keep_last = len(DataLoader(test_data, batch_size=args.batch_size, drop_last=False))
    print(
        _(
            "{n} images, batch_size {batch_size}: {batches} batches with drop_last=True, {keep_last} with "
            "drop_last=False (last batch {last})"
        ).format(
            n=n,
            batch_size=args.batch_size,
            batches=len(test_loader),
            keep_last=keep_last,
            last=n % args.batch_size or args.batch_size,
        )
    )

    logdir = lesson_logdir(__file__, args.logdir)
    writer = SummaryWriter(logdir)
    for epoch in range(2):
        step = 0
        for data in test_loader:
            imgs, targets = data  # imgs: (batch_size, 3, 32, 32), targets: (batch_size,)
            # add_images (with an s) takes a whole batch in NCHW and shows it as a grid
            writer.add_images(f"Epoch: {epoch}", imgs, step)
            if step == 0:
                print(
                    _("epoch {epoch} step 0: imgs {shape}, first targets {targets}").format(
                        epoch=epoch, shape=tuple(imgs.shape), targets=targets[:8].tolist()
                    )
                )
            step = step + 1
        print(_("epoch {epoch}: {steps} steps").format(epoch=epoch, steps=step))
    writer.close()
    print(f"tensorboard: {logdir}")


# Why the guard matters: with num_workers > 0 on Windows and macOS, each worker is a fresh
# Python process ("spawn") that imports this file again to find the dataset's code. Without
# `if __name__ == "__main__":` that import would run main() again inside the worker, which
# would start workers of its own -- Python stops it with "An attempt has been made to start a
# new process before the current process has finished its bootstrapping phase", and the run
# ends with "DataLoader worker ... exited unexpectedly" (tests/test_spawn_workers.py shows it).
# Linux forks workers instead (up to Python 3.13), so the mistake only shows up on the other
# systems. Keep everything that runs in main().
if __name__ == "__main__":
    errors.run(main)
