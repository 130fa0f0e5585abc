"""Smoke tests for 05_loss_optim: each script run as a learner would, offline, checked on its numbers."""
import math
import re

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

NUM = r"-?\d+\.\d+"


def value(stdout, label):
    return float(re.search(re.escape(label) + r"\s*(" + NUM + ")", stdout).group(1))


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
    better = [float(v) for v in re.findall(r"vs class 1 -> (" + NUM + ")", r.stdout)]
    assert len(better) == 2 and ce > better[0] > better[1] > 0


def test_smoke_nn_loss_network_backward_fills_grad(run_script):
    r = run_script("05_loss_optim/nn_loss_network.py", "--offline", "--limit", "32")
    assert r.returncode == 0, r
    losses = [float(v) for v in re.findall(r"^batch \d: outputs \(1, 10\), targets \[\d\], loss (" + NUM + ")$",
                                           r.stdout, re.M)]
    assert len(losses) == 3
    assert all(1.5 < v < 3.5 for v in losses)  # an untrained 10-class model: near ln(10) = 2.30
    assert "conv1 weight.grad before backward(): None" in r.stdout
    m = re.search(r"weight.grad after backward\(\): tensor of shape \(32, 3, 5, 5\) .*norm (" + NUM + ")", r.stdout)
    assert m and float(m.group(1)) > 0


def test_smoke_nn_optim_loss_sum_goes_down(run_script):
    r = run_script("05_loss_optim/nn_optim.py", "--offline", "--limit", "64", "--epochs", "3")
    assert r.returncode == 0, r
    sums = [float(v) for v in re.findall(r"^epoch \d/3: loss sum (" + NUM + ") over 64 batches", r.stdout, re.M)]
    assert len(sums) == 3, r
    assert 64 * 1.5 < sums[0] < 64 * 3.5       # starts near 64 * ln(10)
    assert sums[0] > sums[1] > sums[2]          # SGD lowers the loss epoch after epoch
    assert "grad_fn" not in r.stdout            # printed as plain floats, not graph-attached tensors
    logdir = r.home / "logs" / "05_loss_optim" / "nn_optim"
    assert list(logdir.glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(logdir))
    acc.Reload()
    logged = acc.Scalars("epoch_loss_sum")
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
    assert (float(first), float(second)) == (4.5, 9.0)   # gradients accumulate
    assert "x.grad after clearing: None" in out
    assert ".item() -> 5 (int)" in out
    rows = [float(v) for v in re.findall(NUM, out.split("2-norm of each row:\n", 1)[1].split(")", 1)[0])]
    cols = [float(v) for v in re.findall(NUM, out.split("2-norm of each column:\n", 1)[1].split(")", 1)[0])]
    assert rows == pytest.approx([5.4772, 10.9545, 16.4317], abs=1e-4)
    assert cols == pytest.approx([3.7417, 7.4833, 11.2250, 14.9666], abs=1e-4)
    assert "torch.linalg.vector_norm gives the same rows: True" in out
