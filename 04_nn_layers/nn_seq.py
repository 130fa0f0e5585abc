"""神经网络-搭建小实战和Sequential的使用: the course's CIFAR-10 model as one nn.Sequential.

Note 000 §网络搭建以及Sequential的使用, note 001 【搭建模型】1.2 nn.Sequential,
note 003 §4.6.3 nn.Sequential; course P22 神经网络-搭建小实战和Sequential的使用.

nn.Sequential runs its layers in order, each output feeding the next, so
forward is one line. The model (CIFAR-10 "quick" net):
  3x32x32 -conv5 p2-> 32x32x32 -pool2-> 32x16x16 -conv5 p2-> 32x16x16 -pool2->
  32x8x8 -conv5 p2-> 64x8x8 -pool2-> 64x4x4 -flatten-> 1024 -> 64 -> 10
(padding=2 keeps the size: see the formula in nn_conv.py.)

Run:   python 04_nn_layers/nn_seq.py
Look:  tensorboard --logdir logs -> GRAPHS: double-click Tudui / model1 to open the layers
"""

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors
from common import model as course_model
from common.paths import lesson_logdir

import torch
from torch import nn
from torch.nn import Conv2d, Flatten, Linear, MaxPool2d, Sequential
from torch.utils.tensorboard import SummaryWriter


class Tudui(nn.Module):
    def __init__(self):
        super().__init__()
        self.model1 = Sequential(
            Conv2d(3, 32, 5, padding=2),
            MaxPool2d(2),
            Conv2d(32, 32, 5, padding=2),
            MaxPool2d(2),
            Conv2d(32, 64, 5, padding=2),
            MaxPool2d(2),
            Flatten(),  # (N, 64, 4, 4) -> (N, 1024), batch dimension kept
            Linear(1024, 64),
            Linear(64, 10),  # one score per CIFAR-10 class
        )

    def forward(self, x):
        # (one copy of the notes returns x here instead of the Sequential's output:
        # the "model" would then hand back its input unchanged)
        x = self.model1(x)
        return x


def main():
    p = cli.parser(__doc__, data=None, device=False, seed=True)
    args = p.parse_args()
    torch.manual_seed(args.seed)

    tudui = Tudui()
    print(tudui)

    # The course's sanity check: a batch of 64 all-ones "images" must give
    # 64 rows of 10 scores. Wrong in_features in a Linear fails right here.
    input = torch.ones((64, 3, 32, 32))
    output = tudui(input)
    print(_("output shape: {shape}").format(shape=output.shape))

    # The same, layer by layer: a Sequential can be iterated like a list.
    x = input
    for layer in tudui.model1:
        x = layer(x)
        print(f"  {type(layer).__name__:9s} -> {tuple(x.shape)}")

    # weights + biases: conv 3*32*25+32 = 2,432; conv 32*32*25+32 = 25,632;
    # conv 32*64*25+64 = 51,264; linear 1024*64+64 = 65,600; linear 64*10+10 = 650
    n_params = sum(p.numel() for p in tudui.parameters())
    reference = sum(p.numel() for p in course_model.Tudui().parameters())
    print(
        _("parameters: {n:,} (common.model.Tudui, used by the later lessons: {reference:,})").format(
            n=n_params, reference=reference
        )
    )

    # add_graph runs the model once under torch.jit.trace to record which
    # operations happen. PyTorch deprecated TorchScript (jit) in favour of
    # torch.compile / torch.export and warns about it on every trace; the
    # graph TensorBoard gets is still correct, so we silence just that warning.
    # (The notes call add_graph before tudui exists: it needs the model and an input.)
    logdir = lesson_logdir(__file__, args.logdir)
    writer = SummaryWriter(str(logdir))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.trace", category=FutureWarning)
        writer.add_graph(tudui, input)
    writer.close()
    print(_("tensorboard: {folder} (GRAPHS tab)").format(folder=logdir))


if __name__ == "__main__":
    errors.run(main)
