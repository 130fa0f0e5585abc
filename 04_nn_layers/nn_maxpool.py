"""神经网络-最大池化的使用: nn.MaxPool2d, ceil_mode, and what pooling does to images.

Note 000 §池化, note 001 【搭建模型】2.2 池化层, note 003 §4.6.3 nn.MaxPool2d;
course P19 神经网络-最大池化的使用.

Max pooling keeps the largest value of each window: the strongest response
survives while the data shrinks (最大池化层保留输入的特征，同时减少数据量).
Its stride defaults to kernel_size, so windows don't overlap (a conv's default
stride is 1). ceil_mode=True keeps the partial windows at the border.

Run:   python 04_nn_layers/nn_maxpool.py          (--batches 0: the whole test set, as in the course)
Look:  tensorboard --logdir logs -> IMAGES: maxpool_input, maxpool_output (a 10x10 mosaic)
"""

import sys
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors
from common.data import cifar10_download, cifar10_root, instead_of_download, limit_dataset
from common.paths import lesson_logdir

import torch
import torchvision
from torch import nn
from torch.nn import MaxPool2d
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter


class Tudui(nn.Module):
    """The course's model around its one layer: a layer is an nn.Module already, but every model is built so."""

    def __init__(self):
        super().__init__()
        self.maxpool1 = MaxPool2d(kernel_size=3, ceil_mode=False)

    def forward(self, input):
        output = self.maxpool1(input)
        return output


def main():
    p = cli.parser(__doc__, device=False, batches=3)
    args = p.parse_args()

    # The 5x5 matrix of the conv lesson, as float32: pooling runs on float
    # feature maps (older PyTorch even refused integer input here).
    input = torch.tensor(
        [[1, 2, 0, 3, 1], [0, 1, 2, 3, 1], [1, 2, 1, 0, 0], [5, 2, 3, 1, 1], [2, 1, 0, 1, 1]], dtype=torch.float32
    )
    input = torch.reshape(input, (-1, 1, 5, 5))  # (N, C, H, W); -1: "work out the batch size"

    # Windows of 3x3 with stride 3: only one full window fits in 5x5 (the top-left).
    # ceil_mode=True also keeps the partial windows on the right and bottom edges.
    print("MaxPool2d(3, ceil_mode=True):")
    print(MaxPool2d(kernel_size=3, ceil_mode=True)(input))
    print("MaxPool2d(3, ceil_mode=False):")
    print(MaxPool2d(kernel_size=3, ceil_mode=False)(input))

    # ---- on images ---------------------------------------------------------
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
    dataloader = DataLoader(test_set, batch_size=64)
    tudui = Tudui()

    logdir = lesson_logdir(__file__, args.logdir)
    writer = SummaryWriter(str(logdir))
    print(f"tensorboard: {logdir}")
    for step, data in enumerate(islice(dataloader, args.batches or None)):
        imgs, targets = data  # the course's unpacking; targets (the labels) are not needed here
        output = tudui(imgs)  # no parameters: nothing for autograd to track
        writer.add_images("maxpool_input", imgs, step)
        writer.add_images("maxpool_output", output, step)
        if step == 0:
            ceil = MaxPool2d(kernel_size=3, ceil_mode=True)(imgs)
            print(
                _("images {shape} -> ceil_mode=False {floor}, ceil_mode=True {ceil}").format(
                    shape=tuple(imgs.shape), floor=tuple(output.shape), ceil=tuple(ceil.shape)
                )
            )
            print(_("values per image: {before} -> {after}").format(before=imgs[0].numel(), after=output[0].numel()))
    writer.close()
    print(_("logged {n} batch(es) of up to 64 images").format(n=step + 1))


if __name__ == "__main__":
    errors.run(main)
