"""Smoke tests for 05_loss_optim: each script run as a learner would, offline, checked on its numbers; for
gradient_descent.py the numbers it checked itself (hand-written steps vs torch.optim.SGD, distance to least
squares, which lr diverged) and the TensorBoard curves it wrote, one folder per learning rate."""

import math
import re

import pytest

from helpers import read_events

DECIMAL = r"-?\d+\.\d+"


def value(stdout, label):
    return float(re.search(re.escape(label) + r"\s*(" + DECIMAL + ")", stdout).group(1))


def test_smoke_nn_loss_values(run_script):
    r = run_script("05_loss_optim/nn_loss.py")
    assert r.returncode == 0, r
    assert "L1Loss on int64 tensors:" in r.stdout
    assert value(r.stdout, "L1Loss (mean):") == pytest.approx(2 / 3, abs=1e-4)
    assert value(r.stdout, "L1Loss (sum):") == pytest.approx(2.0, abs=1e-4)
    assert value(r.stdout, "MSELoss:") == pytest.approx(4 / 3, abs=1e-4)
    ce = value(r.stdout, "CrossEntropyLoss:")
    assert ce == pytest.approx(1.1019, abs=1e-4)
    assert ce == pytest.approx(-0.2 + math.log(math.exp(0.1) + math.exp(0.2) + math.exp(0.3)), abs=1e-4)
    # a more confident right answer means a smaller loss
    better = [float(v) for v in re.findall(r"vs class 1 -> (" + DECIMAL + ")", r.stdout)]
    assert len(better) == 2 and ce > better[0] > better[1] > 0
    # backward() of the cross-entropy: softmax of the scores minus the one-hot answer, computed here by hand
    e = [math.exp(v) for v in (0.1, 0.2, 0.3)]
    want = [e[0] / sum(e), e[1] / sum(e) - 1, e[2] / sum(e)]
    grad = re.search(r"^x\.grad = \[(.+?)\], softmax", r.stdout, re.M).group(1).split()
    assert [float(g) for g in grad] == pytest.approx(want, abs=1e-4)


def test_smoke_nn_loss_network_backward_fills_grad(run_script):
    r = run_script("05_loss_optim/nn_loss_network.py", "--offline", "--limit", "32")
    assert r.returncode == 0, r
    losses = [
        float(v)
        for v in re.findall(r"^batch \d: outputs \(1, 10\), targets \[\d\], loss (" + DECIMAL + ")$", r.stdout, re.M)
    ]
    assert len(losses) == 3
    assert all(1.5 < v < 3.5 for v in losses)  # an untrained 10-class model: near ln(10) = 2.30
    assert "conv1 weight.grad before backward(): None" in r.stdout
    m = re.search(r"weight.grad after backward\(\): tensor of shape \(32, 3, 5, 5\) .*norm (" + DECIMAL + ")", r.stdout)
    assert m and float(m.group(1)) > 0


def test_smoke_nn_optim_loss_sum_goes_down(run_script):
    r = run_script("05_loss_optim/nn_optim.py", "--offline", "--limit", "64")  # 3 epochs: the default
    assert r.returncode == 0, r
    sums = [float(v) for v in re.findall(r"^epoch \d/3: loss sum (" + DECIMAL + ") over 64 batches", r.stdout, re.M)]
    assert len(sums) == 3, r
    assert 64 * 1.5 < sums[0] < 64 * 3.5  # starts near 64 * ln(10)
    assert sums[0] > sums[1] > sums[2]  # SGD lowers the loss epoch after epoch
    assert "grad_fn" not in r.stdout  # printed as plain floats, not graph-attached tensors
    logged = read_events(r.home / "logs" / "05_loss_optim" / "nn_optim").Scalars("epoch_loss_sum")
    assert [e.step for e in logged] == [0, 1, 2]
    assert [e.value for e in logged] == pytest.approx(sums, abs=1e-3)


def test_smoke_tensor_basics(run_script):
    r = run_script("05_loss_optim/tensor_basics.py")
    assert r.returncode == 0, r
    out = r.stdout
    assert "a[1][0] = 3" in out and "torch.tensor(5).dim() = 0" in out
    assert "torch.Tensor([2, 3]).dtype = torch.float32" in out
    assert "torch.tensor([2, 3]).dtype = torch.int64" in out
    assert "np.array([2, 3]).dtype = int64" in out
    assert "torch.Tensor(2, 3).shape = (2, 3)" in out
    assert "cat dim=0: (3, 3) + (3, 3) -> (6, 3)" in out
    assert "cat dim=1: (3, 3) + (3, 3) -> (3, 6)" in out
    assert "x.requires_grad = True | x.grad_fn = None" in out
    assert "y.grad_fn = AddBackward0" in out
    first, second = re.findall(r"x\.grad after (?:a second )?backward\(\).*:\ntensor\(\[\[(\d+\.\d*), ", out)
    assert (float(first), float(second)) == (4.5, 9.0)  # gradients accumulate
    assert "x.grad after clearing: None" in out
    assert ".item() -> 5 (int)" in out
    rows = [float(v) for v in re.findall(DECIMAL, out.split("2-norm of each row:\n", 1)[1].split(")", 1)[0])]
    cols = [float(v) for v in re.findall(DECIMAL, out.split("2-norm of each column:\n", 1)[1].split(")", 1)[0])]
    assert rows == pytest.approx([5.4772, 10.9545, 16.4317], abs=1e-4)
    assert cols == pytest.approx([3.7417, 7.4833, 11.2250, 14.9666], abs=1e-4)
    assert "torch.linalg.vector_norm gives the same rows: True" in out


# -- gradient_descent.py ---------------------------------------------------------------------------

NUM = r"-?\d+(?:\.\d+)?(?:e[+-]\d+)?"  # in e-notation too


def test_smoke_gradient_descent_three_forms_and_three_learning_rates(run_script):
    r = run_script("05_loss_optim/gradient_descent.py")
    assert r.returncode == 0, r
    out = r.stdout

    # least squares lands near the plane the points were made from (2, -3.4, 4.2, noise 0.1)
    w1, w2, b, best = map(
        float,
        re.search(
            rf"least squares: w1 = ({NUM}), w2 = ({NUM}), b = ({NUM}), "
            rf"loss ({NUM})",
            out,
        ).groups(),
    )
    assert (w1, w2, b) == pytest.approx((2.0, -3.4, 4.2), abs=0.1)
    assert 0.005 < best < 0.02  # about the noise's variance, 0.1²
    assert float(re.search(rf"lstsq agrees: max diff ({NUM})", out).group(1)) < 1e-10

    forms = {
        m[0]: (int(m[1]), float(m[2]), float(m[3]))
        for m in re.findall(
            rf"^(batch GD|stochastic GD|mini-batch GD): .* = (\d+) steps; vs torch.optim.SGD max diff ({NUM}); "
            rf"distance to least squares ({NUM})$",
            out,
            re.M,
        )
    }
    assert {k: v[0] for k, v in forms.items()} == {"batch GD": 60, "stochastic GD": 2000, "mini-batch GD": 200}
    assert all(diff < 1e-12 for _, diff, _ in forms.values())  # by hand == torch.optim.SGD after every step
    assert forms["batch GD"][2] < 1e-9  # batch GD ends on the exact answer
    for name in ("stochastic GD", "mini-batch GD"):
        assert 1e-4 < forms[name][2] < 0.05  # near it, jittering with a fixed lr

    lam, limit = map(float, re.search(rf"λ_max = ({NUM}): batch GD diverges for lr > 2/λ_max = ({NUM})", out).groups())
    assert limit == pytest.approx(2 / lam, abs=2e-3) and 0.3 < limit < 1.0

    runs = {
        m[0]: (float(m[1]), float(m[2]), m[3])
        for m in re.findall(rf"^lr ({NUM}): loss ({NUM}) -> ({NUM}) in 30 steps: (.*)$", out, re.M)
    }
    assert sorted(runs) == ["0.02", "0.3", "1.0"]
    assert len({first for first, _, _ in runs.values()}) == 1  # every lr starts from the same weights
    assert runs["0.02"][2].startswith("too slow") and runs["0.02"][1] > best + 0.1
    assert runs["0.3"][2] == "reached the minimum" and runs["0.3"][1] == pytest.approx(best, rel=1e-3)
    first, last, verdict = runs["1.0"]
    assert verdict.startswith("diverged") and f"(lr 1.0 > 2/λ_max = {limit:.3f})" in verdict
    assert last > 100 * first
    assert out.count("diverged") == 1

    # one TensorBoard run per lr under one folder: 31 losses each (before the first step, after each)
    parent = r.home / "logs" / "05_loss_optim" / "gradient_descent"
    for lr, (first, last, _) in runs.items():
        logged = read_events(parent / f"lr_{lr}").Scalars("loss")
        assert [e.step for e in logged] == list(range(31))
        assert logged[0].value == pytest.approx(first, rel=1e-4)
        assert logged[-1].value == pytest.approx(last, rel=1e-3)
