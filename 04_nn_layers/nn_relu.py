"""神经网络-非线性激活: nn.ReLU and nn.Sigmoid, on numbers and on images.

Note 000 §非线性激活层, note 001 【搭建模型】2.3 非线性激活层, note 003 §4.6.3
nn.ReLU/nn.Sigmoid; course P20 神经网络-非线性激活.

ReLU(x) = max(0, x); Sigmoid(x) = 1 / (1 + e^-x), squashing into (0, 1).
Without a non-linearity between them, stacked linear layers collapse into one
linear map (shown below), so the network can only learn linear rules.

Run:   python 04_nn_layers/nn_relu.py             (--batches 0: the whole test set, as in the course)
Look:  tensorboard --logdir logs -> IMAGES: before_activate, after_sigmoid
       (washed-out gray), after_relu (dark half cut to black)
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
from torch.nn import ReLU, Sigmoid
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter


class Tudui(nn.Module):
    """The course's model: both activations as layers; forward uses the sigmoid (the course's second try)."""

    def __init__(self):
        super().__init__()
        self.relu1 = ReLU()
        self.sigmoid1 = Sigmoid()  # (note 001 writes Sigmoid(inplace=False): Sigmoid has no inplace argument)

    def forward(self, input):
        output = self.sigmoid1(input)
        return output


def main():
    p = cli.parser(__doc__, device=False, seed=True, batches=3)
    args = p.parse_args()
    torch.manual_seed(args.seed)

    # The course builds a Tudui with self.relu1 and self.sigmoid1 but its forward
    # only calls the sigmoid. Layers are nn.Modules, so here we call both directly.
    tudui = Tudui()
    relu1, sigmoid1 = tudui.relu1, tudui.sigmoid1

    input = torch.tensor([[1, -0.5], [-1, 3]])
    print(_("input:"), input, sep="\n")
    print(f"ReLU:\n{relu1(input)}")
    print(f"Sigmoid:\n{sigmoid1(input)}")

    # inplace=True overwrites its input instead of allocating a new tensor:
    # saves memory, but the original values are gone.
    x = input.clone()
    ReLU(inplace=True)(x)
    print(_("after ReLU(inplace=True) the input itself is: {values}").format(values=x.tolist()))

    # Why activations matter: two Linear layers in a row equal ONE Linear layer
    # (W2 (W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2)). A ReLU in between breaks that.
    lin1, lin2 = nn.Linear(4, 8), nn.Linear(8, 3)
    merged = nn.Linear(4, 3)
    with torch.no_grad():
        merged.weight.copy_(lin2.weight @ lin1.weight)
        merged.bias.copy_(lin2.weight @ lin1.bias + lin2.bias)
        v = torch.randn(5, 4)
        print(
            _("lin2(lin1(v)) equals one merged Linear: {same}").format(
                same=torch.allclose(lin2(lin1(v)), merged(v), atol=1e-6)
            )
        )
        print(
            _("lin2(relu(lin1(v))) equals it too:      {same}").format(
                same=torch.allclose(lin2(relu1(lin1(v))), merged(v), atol=1e-6)
            )
        )

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
    logdir = lesson_logdir(__file__, args.logdir)
    writer = SummaryWriter(str(logdir))
    print(f"tensorboard: {logdir}")
    for step, data in enumerate(islice(dataloader, args.batches or None)):
        imgs, targets = data  # the course's unpacking; targets (the labels) are not needed here
        # ToTensor pixels are in [0, 1], so sigmoid maps them into [0.5, 0.73]:
        # every image turns grayish, low contrast (得到的结果是变灰的图片).
        after_sigmoid = tudui(imgs)
        # ReLU on [0, 1] pixels changes nothing (there are no negatives), which is
        # why the course shows Sigmoid on images. Shift first so there are:
        # pixels darker than 0.5 become 0 (black); *2 rescales the rest to [0, 1].
        after_relu = relu1(imgs - 0.5) * 2
        writer.add_images("before_activate", imgs, step)
        writer.add_images("after_sigmoid", after_sigmoid, step)
        writer.add_images("after_relu", after_relu, step)
        if step == 0:
            print(
                _("images in [{low:.4f}, {high:.4f}] -> sigmoid in [{s_low:.4f}, {s_high:.4f}]").format(
                    low=imgs.min().item(),
                    high=imgs.max().item(),
                    s_low=after_sigmoid.min().item(),
                    s_high=after_sigmoid.max().item(),
                )
            )
            print(
                _("ReLU on the raw images changes them by at most {change}").format(
                    change=(relu1(imgs) - imgs).abs().max().item()
                )
            )
            print(
                _("ReLU after shifting by -0.5 zeroes {share:.1%} of the pixels").format(
                    share=(after_relu == 0).float().mean().item()
                )
            )
    writer.close()
    print(_("logged {n} batch(es) of up to 64 images").format(n=step + 1))


if __name__ == "__main__":
    errors.run(main)
