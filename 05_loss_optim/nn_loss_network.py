"""损失函数与反向传播: the network's loss on CIFAR-10, and backward() filling in .grad.

Note 000 §torch.nn中的损失函数 and §反向传播, note 002 p23 (4 反向传播), note 003
§4.6.4 result_loss.backward(); course P23 损失函数与反向传播.

The course model (common.model.Tudui, built in 04_nn_layers/nn_seq.py) scores
each image; CrossEntropyLoss compares the scores with the label. backward()
then computes, for every weight, how the loss changes when that weight
changes (its gradient), and stores it in the weight's .grad. Before the
first backward() .grad is None. Nothing is learned yet: that is the
optimizer's job (nn_optim.py).

Run:   python 05_loss_optim/nn_loss_network.py
Look:  the printed losses and gradient (no TensorBoard in this lesson).
"""

import math
import sys
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors
from common.data import cifar10_download, cifar10_root, instead_of_download, limit_dataset
from common.model import Tudui

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader


def main():
    p = cli.parser(__doc__, device=False, logdir=False, seed=True)
    p.add_argument("--batches", type=cli.positive_int, default=3, help=_("how many batches to score (default 3)"))
    p.add_argument(
        "--batch-size", type=cli.positive_int, default=1, help=_("default 1, as the course (one image, one loss)")
    )
    args = p.parse_args()
    torch.manual_seed(args.seed)  # same random starting weights every run

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
    # shuffle: the bundled sample is stored class by class (the real test set is mixed)
    dataloader = DataLoader(test_set, batch_size=args.batch_size, shuffle=True)

    tudui = Tudui()
    loss = nn.CrossEntropyLoss()
    # An untrained 10-class model guesses about evenly: loss near ln(10).
    print(_("chance level: ln(10) = {value:.4f}").format(value=math.log(10)))
    for i, (imgs, targets) in enumerate(islice(dataloader, args.batches)):
        outputs = tudui(imgs)  # (batch, 10) scores
        result_loss = loss(outputs, targets)  # one number (mean over the batch)
        print(
            _("batch {i}: outputs {shape}, targets {targets}, loss {loss:.4f}").format(
                i=i + 1, shape=tuple(outputs.shape), targets=targets.tolist(), loss=result_loss.item()
            )
        )

    # 反向传播: look at the first conv layer's weight before and after backward().
    weight = tudui.model[0].weight
    print(_("conv1 weight.grad before backward():"), weight.grad)
    result_loss.backward()  # differentiates the LAST batch's loss w.r.t. every weight
    g = weight.grad
    print(
        _("conv1 weight.grad after backward(): tensor of shape {shape} (same as the weight), norm {norm:.6f}").format(
            shape=tuple(g.shape), norm=g.norm().item()
        )
    )
    # In the debugger the course opens tudui -> model -> modules -> 0 -> weight -> grad;
    # printing it is the same thing.
    print(_("first 5 gradient values:"), [round(v, 6) for v in g.flatten()[:5].tolist()])


if __name__ == "__main__":
    errors.run(main)
