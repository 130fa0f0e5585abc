"""土堆说卷积操作: F.conv2d by hand on a 5x5 input, and the output-size formula.

Note 001 【搭建模型】2.1.1 卷积操作 F.conv2d, note 003 §4.6.3 nn.functional.conv2d,
note 000 §卷积层的使用 (关于卷积后大小); course P17 土堆说卷积操作 (the formula is
used again in P18 卷积层 and P22 to find padding=2).

The kernel slides over the input; at each position the overlapping numbers
are multiplied and summed into one output number. stride is the step of the
slide, padding adds a border of zeros first.

Run:   python 04_nn_layers/nn_conv.py
Look:  the printed matrices (no TensorBoard in this lesson).
"""

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors

import torch
import torch.nn.functional as F
from torch import nn


def out_size(n, kernel, stride=1, padding=0, dilation=1, ceil_mode=False):
    """The formula from the Conv2d / MaxPool2d docs, for one side (H or W):

        out = floor((n + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1

    ceil_mode (pooling only) rounds up instead, so a last, partial window counts
    (PyTorch still drops a window that would start in the right-hand padding).
    """
    span = (n + 2 * padding - dilation * (kernel - 1) - 1) / stride
    return (math.ceil(span) if ceil_mode else math.floor(span)) + 1


def main():
    p = cli.parser(__doc__, data=None, device=False, logdir=False)
    p.parse_args()

    # The notes' 5x5 input and 3x3 kernel (integers, as in the course)
    input = torch.tensor([[1, 2, 0, 3, 1], [0, 1, 2, 3, 1], [1, 2, 1, 0, 0], [5, 2, 3, 1, 1], [2, 1, 0, 1, 1]])
    kernel = torch.tensor([[1, 2, 1], [0, 1, 0], [2, 1, 0]])
    # F.conv2d works on batches of multi-channel images: input must be
    # (batch, channels, H, W) and the kernel (out_channels, in_channels, kH, kW).
    input = torch.reshape(input, (1, 1, 5, 5))
    kernel = torch.reshape(kernel, (1, 1, 3, 3))

    # The top-left output number, by hand: the kernel laid on the top-left 3x3 corner.
    by_hand = (input[0, 0, :3, :3] * kernel[0, 0]).sum().item()
    print(_("top-left by hand: (input[:3, :3] * kernel).sum() = {value}").format(value=by_hand))

    output = F.conv2d(input, kernel, stride=1)
    print("F.conv2d stride=1:")
    print(output)
    output2 = F.conv2d(input, kernel, stride=2)  # jump 2 columns / rows at a time
    print("F.conv2d stride=2:")
    print(output2)
    output3 = F.conv2d(input, kernel, stride=1, padding=1)  # a ring of zeros around the input
    print("F.conv2d stride=1, padding=1:")
    print(output3)

    # ---- 关于卷积后大小: the output-size formula, worked through -------------
    # Each row: the formula, then the size PyTorch really produces.
    print(_("output size = floor((n + 2*padding - dilation*(kernel-1) - 1) / stride) + 1"))
    cases = [
        # (what, n, layer, formula arguments)
        ("conv k=3 s=1 p=0", 5, nn.Conv2d(1, 1, 3), dict(kernel=3)),
        ("conv k=3 s=2 p=0", 5, nn.Conv2d(1, 1, 3, stride=2), dict(kernel=3, stride=2)),
        ("conv k=3 s=1 p=1", 5, nn.Conv2d(1, 1, 3, padding=1), dict(kernel=3, padding=1)),
        # P18: Conv2d(3, 6, 3) on a 32x32 CIFAR-10 image
        ("conv k=3 s=1 p=0", 32, nn.Conv2d(1, 1, 3), dict(kernel=3)),
        # P22: the course model wants 32 -> 32 with k=5, s=1. Solve
        # 32 = (32 + 2p - 4 - 1) / 1 + 1  =>  p = 2, hence Conv2d(3, 32, 5, padding=2).
        ("conv k=5 s=1 p=2", 32, nn.Conv2d(1, 1, 5, padding=2), dict(kernel=5, padding=2)),
        # Pooling: stride defaults to kernel_size (conv's default stride is 1).
        ("maxpool k=3 ceil_mode=False", 5, nn.MaxPool2d(3), dict(kernel=3, stride=3)),
        ("maxpool k=3 ceil_mode=True", 5, nn.MaxPool2d(3, ceil_mode=True), dict(kernel=3, stride=3, ceil_mode=True)),
        ("maxpool k=3 ceil_mode=False", 32, nn.MaxPool2d(3), dict(kernel=3, stride=3)),
        ("maxpool k=3 ceil_mode=True", 32, nn.MaxPool2d(3, ceil_mode=True), dict(kernel=3, stride=3, ceil_mode=True)),
        ("maxpool k=2", 32, nn.MaxPool2d(2), dict(kernel=2, stride=2)),
    ]
    with torch.no_grad():
        labels = [_("{layer} on {n}x{n}").format(layer=what, n=n) for what, n, _layer, _kw in cases]
        for label, (_what, n, layer, kw) in zip(labels, cases, strict=True):
            real = layer(torch.zeros(1, 1, n, n)).shape[-1]
            print(
                label.ljust(max(map(len, labels))),
                _("-> formula {formula}, PyTorch {real}").format(formula=out_size(n, **kw), real=real),
            )


if __name__ == "__main__":
    errors.run(main)
