"""神经网络的基本骨架 nn.Module: a network is a class with __init__ and forward.

Note 000 §神经网络的基本骨架nn.Module的使用, note 001 【搭建模型】1.1 nn.Module,
note 003 §4.6.3 torch.nn; course P16 神经网络的基本骨架-nn.Module的使用.

Every model in PyTorch subclasses nn.Module: __init__ creates the layers,
forward says how an input becomes an output. The course's first "network"
has no layers at all: it adds 1.

Run:   python 04_nn_layers/nn_module.py
Look:  nothing in TensorBoard here. (Note 001 logs input+1 with add_images, but
       float images are clipped to [0, 1], so the output shows as plain white.)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors

import torch
from torch import nn


class Tudui(nn.Module):
    def __init__(self):
        # First line, always: nn.Module.__init__ sets up the dicts in which
        # layers and parameters assigned to self.xxx get registered.
        super().__init__()

    def forward(self, input):
        output = input + 1
        return output


class Forgot(nn.Module):
    def __init__(self):
        self.linear = nn.Linear(1, 1)  # no super().__init__() first


def main():
    p = cli.parser(__doc__, data=None, device=False, logdir=False, seed=True)
    args = p.parse_args()
    torch.manual_seed(args.seed)

    tudui = Tudui()
    print(tudui)
    x = torch.tensor(1.0)
    # Call the module, not tudui.forward(x): nn.Module.__call__ runs forward
    # plus any hooks (used by TensorBoard's add_graph, profilers, ...).
    output = tudui(x)
    print("tudui(tensor(1.)) =", output)

    # Nothing in forward depends on the shape: a batch of 4 fake RGB 32x32
    # images (N, C, H, W) comes out with the same shape, every value + 1.
    imgs = torch.rand(4, 3, 32, 32)
    out = tudui(imgs)
    print(
        _("batch {shape} -> {result}, equal to imgs + 1: {same}").format(
            shape=tuple(imgs.shape), result=tuple(out.shape), same=torch.equal(out, imgs + 1)
        )
    )
    print(_("parameters to learn: {n}").format(n=sum(p.numel() for p in tudui.parameters())))

    # Why super().__init__() matters: assigning a layer needs the registry it creates.
    try:
        Forgot()
    except AttributeError as exc:
        print(_("without super().__init__(): {problem}").format(problem=f"AttributeError: {exc}"))


if __name__ == "__main__":
    errors.run(main)
