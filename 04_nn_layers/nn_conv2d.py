"""神经网络-卷积层: nn.Conv2d(3, 6, 3) on CIFAR-10 images, viewed in TensorBoard.

Note 000 §卷积层的使用, note 001 【搭建模型】2.1.2-2.1.3 nn.Conv2d, note 003 §4.6.3
nn.Conv2d; course P18 神经网络-卷积层.

nn.Conv2d is F.conv2d (see nn_conv.py) with its own kernels, which start
random and are learned in training. Its weight has shape
(out_channels, in_channels, kH, kW):
  输入特征图的通道数 = 卷积核的通道数   (each kernel spans all 3 input channels)
  输出特征图的通道数 = 卷积核的个数     (6 kernels -> 6 output channels)

Run:   python 04_nn_layers/nn_conv2d.py           (--batches 0: the whole test set, as in the course)
Look:  tensorboard --logdir logs -> IMAGES: input, Conv_output (the course's
       reshape hack) and Conv_output_channels (the 6 maps of the first image, in gray)
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
from torch.nn import Conv2d
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter


class Tudui(nn.Module):
    """The course's model around its one layer: a layer is an nn.Module already, but every model is built so."""

    def __init__(self):
        super().__init__()
        self.conv1 = Conv2d(in_channels=3, out_channels=6, kernel_size=3, stride=1, padding=0)

    def forward(self, input):
        output = self.conv1(input)
        return output


def main():
    p = cli.parser(__doc__, device=False, seed=True, batches=3)
    args = p.parse_args()
    torch.manual_seed(args.seed)  # the kernels start random: same seed, same pictures

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
    print(tudui)
    print(
        _("weight {weight} = 6 kernels, each 3 channels x 3 x 3; bias {bias}").format(
            weight=tuple(tudui.conv1.weight.shape), bias=tuple(tudui.conv1.bias.shape)
        )
    )

    logdir = lesson_logdir(__file__, args.logdir)
    writer = SummaryWriter(str(logdir))
    print(f"tensorboard: {logdir}")
    with torch.no_grad():  # we only look: no training, so no autograd graph needed
        # islice stops after --batches batches (None: the whole loader)
        for step, data in enumerate(islice(dataloader, args.batches or None)):
            imgs, targets = data  # the course's unpacking; targets (the labels) are not needed here
            output = tudui(imgs)
            writer.add_images("input", imgs, step)

            # add_images wants 1 or 3 channels; output has 6. The course's hack:
            # reshape (64, 6, 30, 30) -> (128, 3, 30, 30). It is legal (same 64*6
            # maps in memory), but channels 0-2 of image 0 become fake image 0 and
            # channels 3-5 fake image 1: each "RGB" picture is 3 unrelated feature
            # maps painted red/green/blue, and values outside [0, 1] are clipped.
            # A display trick only; never feed such a tensor to a network.
            fake_rgb = torch.reshape(output, (-1, 3, 30, 30))
            writer.add_images("Conv_output", fake_rgb, step)

            # An honest view: each of the 6 maps of the first image as its own
            # gray image, min-max scaled per map into [0, 1].
            maps = output[0].unsqueeze(1)  # (6, 1, 30, 30)
            lo = maps.amin(dim=(2, 3), keepdim=True)
            hi = maps.amax(dim=(2, 3), keepdim=True)
            writer.add_images("Conv_output_channels", (maps - lo) / (hi - lo + 1e-8), step)

            if step == 0:
                print(
                    _("input  {shape}, values in [{low:.2f}, {high:.2f}]").format(
                        shape=tuple(imgs.shape), low=imgs.min().item(), high=imgs.max().item()
                    )
                )
                print(
                    _("conv   {shape}, values in [{low:.2f}, {high:.2f}]").format(
                        shape=tuple(output.shape), low=output.min().item(), high=output.max().item()
                    )
                )
                print(_("reshaped for add_images {shape}").format(shape=tuple(fake_rgb.shape)))
    writer.close()
    print(_("logged {n} batch(es) of up to 64 images").format(n=step + 1))


if __name__ == "__main__":
    errors.run(main)
