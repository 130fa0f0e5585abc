"""损失函数: L1Loss, MSELoss and CrossEntropyLoss on the notes' numbers, checked by hand.

Note 000 §torch.nn中的损失函数, note 002 p23 损失函数与反向传播 (1-3), note 003
§4.6.3 nn.L1Loss / nn.MSELoss / nn.CrossEntropyLoss; course P23 损失函数与反向传播.

A loss measures how far the output is from the target (smaller is better)
and is what backward() differentiates to tell each weight which way to move.

Run:   python 05_loss_optim/nn_loss.py
Look:  the printed values (no TensorBoard in this lesson).
"""

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors

import torch
from torch import nn


def main():
    p = cli.parser(__doc__, data=None, device=False, logdir=False)
    p.parse_args()

    # Losses average (or sum), so they need floating point: integer tensors fail.
    try:
        nn.L1Loss()(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 5]))
    except RuntimeError as exc:
        print(_("L1Loss on int64 tensors:"), str(exc).splitlines()[0])  # PyTorch's own words, as they are

    inputs = torch.tensor([1, 2, 3], dtype=torch.float32)
    targets = torch.tensor([1, 2, 5], dtype=torch.float32)
    # The course reshapes to (N, C, H, W) = (1, 1, 1, 3); these losses accept any
    # shape as long as inputs and targets match, so this changes nothing.
    inputs = torch.reshape(inputs, (1, 1, 1, 3))
    targets = torch.reshape(targets, (1, 1, 1, 3))

    # L1: |1-1| + |2-2| + |3-5| = 2; mean over 3 elements = 0.6667
    print(_("L1Loss (mean): {loss:.4f}").format(loss=nn.L1Loss()(inputs, targets).item()))
    print(_("L1Loss (sum):  {loss:.4f}").format(loss=nn.L1Loss(reduction="sum")(inputs, targets).item()))
    # MSE: (0 + 0 + (3-5)^2) / 3 = 4/3
    loss_mse = nn.MSELoss()
    result_mse = loss_mse(inputs, targets)
    print(f"MSELoss:       {result_mse.item():.4f}")

    # Cross-entropy, for classification. Input: raw scores (logits) of shape
    # (N, C) = (batch, classes); target: class indices of shape (N,).
    # Don't softmax first: CrossEntropyLoss applies log-softmax itself.
    x = torch.tensor([0.1, 0.2, 0.3], requires_grad=True)  # requires_grad: backward() fills x.grad
    y = torch.tensor([1])  # the right answer is class 1 (score 0.2)
    loss_cross = nn.CrossEntropyLoss()
    result_loss = loss_cross(torch.reshape(x, (1, 3)), y)  # one sample, three classes
    ce = result_loss.item()
    # loss(x, class) = -x[class] + log(sum_j exp(x[j]))   (log is ln)
    by_hand = -0.2 + math.log(math.exp(0.1) + math.exp(0.2) + math.exp(0.3))
    print(
        _("CrossEntropyLoss: {ce:.4f}  (by hand: -0.2 + ln(e^0.1 + e^0.2 + e^0.3) = {by_hand:.4f})").format(
            ce=ce, by_hand=by_hand
        )
    )
    result_loss.backward()  # d loss / d x = softmax(x) - one_hot(y): push class 1 up, the others down
    by_hand = x.detach().softmax(0) - torch.eye(3)[1]
    print(f"x.grad = {x.grad.numpy().round(4)}, softmax(x) - one_hot(y) = {by_hand.numpy().round(4)}")
    # The loss falls as the right class's score rises above the others:
    for scores in ([0.1, 2.0, 0.3], [0.1, 5.0, 0.3]):
        ce = nn.CrossEntropyLoss()(torch.tensor([scores]), y).item()
        print(_("  scores {scores} vs class 1 -> {ce:.4f}").format(scores=scores, ce=ce))


if __name__ == "__main__":
    errors.run(main)
