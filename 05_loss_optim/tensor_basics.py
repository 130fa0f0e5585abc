"""torch.tensor basics: tensor vs Tensor, cat, requires_grad / grad_fn / grad, item, norm.

Note 003 §4.5 torch.tensor (4.5.1 tensor与Tensor的区别, 4.5.2 cat, 4.5.3 梯度相关 /
item), §4.6.4 backward, §4.6.5 torch.norm; background for course P23-P24
(损失函数与反向传播, 优化器).

Everything a network computes is a tensor: 0-d = a number (scalar), 1-d = a
vector, 2-d = a matrix, n-d = n indices to reach one element. Besides data,
a tensor can carry what autograd needs (requires_grad, grad_fn, grad).

Run:   python 05_loss_optim/tensor_basics.py
Look:  the printed values (no TensorBoard in this lesson).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors

import numpy as np
import torch


def main():
    p = cli.parser(__doc__, data=None, device=False, logdir=False, seed=True)
    args = p.parse_args()
    torch.manual_seed(args.seed)

    # ---- dimensions ----------------------------------------------------------
    a = torch.tensor([[1, 2], [3, 4]])
    print(
        _("a.dim() = {dim}, a.shape = {shape}, a[1][0] = {value} (2 indices for 2-d)").format(
            dim=a.dim(), shape=tuple(a.shape), value=a[1][0].item()
        )
    )
    print(_("torch.tensor(5).dim() = {dim} (a scalar)").format(dim=torch.tensor(5).dim()))

    # ---- 4.5.1 tensor与Tensor的区别 -----------------------------------------
    # torch.Tensor is the class (it makes the default dtype, float32); torch.tensor() is
    # a function that copies data and infers the dtype from it.
    print("torch.Tensor([2, 3]).dtype =", torch.Tensor([2, 3]).dtype)
    print("torch.tensor([2, 3]).dtype =", torch.tensor([2, 3]).dtype)
    print("torch.tensor([2., 3.]).dtype =", torch.tensor([2.0, 3.0]).dtype)
    # (NumPy's default integer is int64 too since NumPy 2; older NumPy on Windows gave int32.)
    print("np.array([2, 3]).dtype =", np.array([2, 3]).dtype)
    # Pitfall: with plain ints, torch.Tensor reads them as a SHAPE and returns an
    # uninitialised 2x3 tensor (whatever was in memory), not the values 2 and 3.
    print("torch.Tensor(2, 3).shape =", tuple(torch.Tensor(2, 3).shape))
    print(_("torch.tensor(()) is like torch.Tensor():"), torch.tensor(()).shape, torch.tensor(()).dtype)

    # ---- 4.5.2 cat ----------------------------------------------------------
    b = torch.randn(3, 3)
    e = torch.cat((b, b), dim=0)  # dim=0: stack the rows -> more rows
    d = torch.cat((b, b), dim=1)  # dim=1: side by side -> more columns
    print(f"cat dim=0: {tuple(b.shape)} + {tuple(b.shape)} -> {tuple(e.shape)}")
    print(f"cat dim=1: {tuple(b.shape)} + {tuple(b.shape)} -> {tuple(d.shape)}")

    # ---- 4.5.3 requires_grad, grad_fn, grad ---------------------------------
    x = torch.ones(2, 2, requires_grad=True)  # a leaf: made by us, not computed
    print("x.requires_grad =", x.requires_grad, "| x.grad_fn =", x.grad_fn)
    y = x + 2  # computed: remembers how (for backward)
    print("y.grad_fn =", type(y.grad_fn).__name__)
    z = (y * y * 3).mean()  # z = mean(3 * (x+2)^2) = 27
    z.backward()  # dz/dx = 6 * (x+2) / 4 = 4.5 for every element
    print(_("z = {z}, x.grad after backward():").format(z=z.item()), x.grad, sep="\n")
    # Gradients ACCUMULATE: a second backward adds to .grad instead of replacing
    # it, which is why training calls optimizer.zero_grad() every step.
    ((x + 2) * (x + 2) * 3).mean().backward()
    print(_("x.grad after a second backward() (accumulated):"), x.grad, sep="\n")
    x.grad = None  # what zero_grad() does by default
    print(_("x.grad after clearing:"), x.grad)

    # ---- item() -------------------------------------------------------------
    t = torch.tensor(5)
    print(
        _(
            "torch.tensor(5) = {tensor}; .item() -> {value} ({kind}): "
            "a plain Python number, for one-element tensors only"
        ).format(tensor=repr(t), value=repr(t.item()), kind=type(t.item()).__name__)
    )

    # ---- 4.6.5 torch.norm ---------------------------------------------------
    inputs = torch.tensor([[1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0], [3.0, 6.0, 9.0, 12.0]])
    rows = torch.norm(inputs, p=2, dim=1, keepdim=True)  # sqrt of the sum of squares of each row
    cols = torch.norm(inputs, p=2, dim=0, keepdim=True)  # ... of each column
    print(_("2-norm of each row:"), rows, sep="\n")
    print(_("2-norm of each column:"), cols, sep="\n")
    # The docs mark torch.norm as deprecated; torch.linalg.vector_norm is its replacement.
    same = torch.allclose(rows, torch.linalg.vector_norm(inputs, ord=2, dim=1, keepdim=True))
    print(_("torch.linalg.vector_norm gives the same rows:"), same)


if __name__ == "__main__":
    errors.run(main)
