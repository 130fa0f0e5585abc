"""梯度下降: least squares solved exactly, then batch, stochastic and mini-batch gradient
descent written by hand and checked against torch.optim.SGD, and a learning rate too
small, right and too large side by side.

Note 003 §6.1.2.7 最小二乘法, §6.2.8 梯度下降 (6.2.8.1 梯度下降的3种不同形式, 6.2.8.2 学习速率Lr),
§4.6.6 优化器; background for course P24 优化器.

A plane y = w1*x1 + w2*x2 + b fitted to 100 made-up noisy points. Least squares
has an exact answer: where the loss's derivative is zero. Gradient descent walks
there instead, step after step: w = w - lr * gradient. Its three forms differ
only in how many points one step looks at: all of them (batch), one (stochastic),
a few (mini-batch: what deep learning does, DataLoader's batch_size).

Run:   python 05_loss_optim/gradient_descent.py          (~2 s)
Look:  tensorboard --logdir logs -> SCALARS: loss, one curve per lr (switch the y axis to log scale)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors
from common.paths import lesson_logdir

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter


def gradient(a, y, theta):
    """The gradient of the loss mean((a @ theta - y)²), derived by hand: 2/n · aᵀ(a @ theta - y)."""
    return 2 / len(y) * a.T @ (a @ theta - y)


def shuffled_batches(n, batch_size, epochs):
    """The rows each step uses: every epoch all n in a new order, cut into batches (DataLoader(shuffle=True))."""
    return [rows for _epoch in range(epochs) for rows in torch.randperm(n).split(batch_size)]


def descend(a, y, batches, lr):
    """Gradient descent over ``batches`` done twice side by side: by hand, and the course's way
    (nn.Linear + MSELoss + torch.optim.SGD). Returns (theta by hand, the largest difference to the
    optimizer's weights after any step, the loss on all points before the first and after each step)."""
    model = nn.Linear(2, 1)  # weight (1, 2) = w1, w2; bias (1,) = b
    theta = torch.cat([model.weight[0], model.bias]).detach()  # the same start for both
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    mse = nn.MSELoss()
    losses, diff = [mse(a @ theta, y).item()], 0.0
    for rows in batches:
        # by hand, with the formula rather than autograd: then a step is nothing but the update below,
        # and the optimizer's side (autograd's gradient + step()) checks the formula and the update at once
        theta = theta - lr * gradient(a[rows], y[rows], theta)
        loss = mse(model(a[rows, :2]).squeeze(1), y[rows])  # a[:, :2]: x1, x2 without the 1s (b is the bias)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()  # w = w - lr * w.grad (the note's "x−lr∗(x∗grad)": x∗grad means x.grad)
        diff = max(diff, (theta - torch.cat([model.weight[0], model.bias]).detach()).abs().max().item())
        losses.append(mse(a @ theta, y).item())
    return theta, diff, losses


def main():
    p = cli.parser(__doc__, data=None, device=False, seed=True)
    args = p.parse_args()
    torch.manual_seed(args.seed)  # the points and the shuffles (each run below reseeds for its start)
    torch.set_default_dtype(torch.float64)  # then the differences printed are the method's, not float32 rounding

    # 100 points near the plane y = 2*x1 - 3.4*x2 + 4.2; a column of 1s carries b: a @ (w1, w2, b)
    n = 100
    x = torch.randn(n, 2)
    y = x @ torch.tensor([2.0, -3.4]) + 4.2 + 0.1 * torch.randn(n)
    a = torch.cat([x, torch.ones(n, 1)], dim=1)

    # ---- 6.1.2.7 最小二乘法 ----------------------------------------------------
    # loss = mean((a @ theta - y)²); its derivative 2/n · aᵀ(a @ theta - y) is 0 at the minimum:
    # aᵀa @ theta = aᵀy, the normal equations, solved in one go
    exact = torch.linalg.solve(a.T @ a, a.T @ y)
    lstsq = torch.linalg.lstsq(a, y.unsqueeze(1)).solution.squeeze(1)  # the same, computed another way (QR)
    best = nn.MSELoss()(a @ exact, y).item()
    print(
        _("least squares: w1 = {w1:.4f}, w2 = {w2:.4f}, b = {b:.4f}, loss {loss:.6f}").format(
            w1=exact[0].item(), w2=exact[1].item(), b=exact[2].item(), loss=best
        )
    )
    print(_("torch.linalg.lstsq agrees: max diff {diff:.1e}").format(diff=(exact - lstsq).abs().max().item()))

    # ---- 6.2.8.1 梯度下降的3种不同形式 ----------------------------------------
    # 批量 batch: every step uses all points (smooth, but one step per pass over the data);
    # 随机 stochastic: one point per step (many cheap, noisy steps: it needs a smaller lr);
    # 小批量 mini-batch: a few points per step (深度学习常用)
    for name, batch_size, lr, epochs in (
        (_("batch GD"), n, 0.3, 60),
        (_("stochastic GD"), 1, 0.01, 20),
        (_("mini-batch GD"), 10, 0.1, 20),
    ):
        batches = shuffled_batches(n, batch_size, epochs)
        torch.manual_seed(args.seed)  # the same starting weights (nn.Linear's) for every run
        theta, diff, _losses = descend(a, y, batches, lr)
        print(
            _(
                "{name}: {batch_size} point(s) a step, lr {lr}, {epochs} epochs = {steps} steps; "
                "vs torch.optim.SGD max diff {diff:.1e}; distance to least squares {distance:.1e}"
            ).format(
                name=name,
                batch_size=batch_size,
                lr=lr,
                epochs=epochs,
                steps=len(batches),
                diff=diff,
                distance=torch.linalg.vector_norm(theta - exact).item(),
            )
        )
    # With a fixed lr, a step on a few points pulls toward THOSE points' best fit, so stochastic and
    # mini-batch GD end up near the minimum, jittering, not on it (a smaller lr: closer, but slower).

    # ---- 6.2.8.2 学习速率Lr -----------------------------------------------------
    # "学习率太小跑得太慢，太大时模型训练不稳定". The loss is a bowl; its steepest curvature is the
    # largest eigenvalue λ_max of its Hessian 2/n · aᵀa. Past lr = 2/λ_max a step overshoots the bottom
    # so far that it lands higher up the other side, and every step makes it worse.
    lam = torch.linalg.eigvalsh(2 / n * a.T @ a).max().item()
    print(
        _("Hessian's largest eigenvalue λ_max = {lam:.3f}: batch GD diverges for lr > 2/λ_max = {limit:.3f}").format(
            lam=lam, limit=2 / lam
        )
    )
    logdir = lesson_logdir(__file__, args.logdir)
    for lr in (0.02, 0.3, 1.0):
        torch.manual_seed(args.seed)
        _theta, _diff, losses = descend(a, y, [torch.arange(n)] * 30, lr)  # batch GD, 30 steps
        writer = SummaryWriter(str(logdir / f"lr_{lr}"))  # one folder per lr: TensorBoard overlays them
        for step, value in enumerate(losses):
            writer.add_scalar("loss", value, step)
        writer.close()
        first, last = losses[0], losses[-1]
        if not last < first:  # also true for inf and nan
            verdict = _(
                "diverged: the loss grew {factor:.1e} times, each step overshoots the minimum "
                "(lr {lr} > 2/λ_max = {limit:.3f})"
            ).format(factor=last / first, lr=lr, limit=2 / lam)
        elif last - best > 1e-6:
            verdict = _("too slow: still {gap:.2g} above the minimum").format(gap=last - best)
        else:
            verdict = _("reached the minimum")
        print(
            _("lr {lr}: loss {first:.4f} -> {last:.4g} in {steps} steps: {verdict}").format(
                lr=lr, first=first, last=last, steps=len(losses) - 1, verdict=verdict
            )
        )
    print(f"tensorboard: {logdir}")


if __name__ == "__main__":
    errors.run(main)
