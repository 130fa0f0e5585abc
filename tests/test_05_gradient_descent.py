"""Smoke test for 05_loss_optim/gradient_descent.py: run as a learner would, checked on the numbers it
checked itself (hand-written steps vs torch.optim.SGD, distance to least squares, which lr diverged)
and on the TensorBoard curves it wrote, one folder per learning rate."""
import re

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

NUM = r"-?\d+(?:\.\d+)?(?:e[+-]\d+)?"


def test_smoke_gradient_descent_three_forms_and_three_learning_rates(run_script):
    r = run_script("05_loss_optim/gradient_descent.py")
    assert r.returncode == 0, r
    out = r.stdout

    # least squares lands near the plane the points were made from (2, -3.4, 4.2, noise 0.1)
    w1, w2, b, best = map(float, re.search(rf"least squares: w1 = ({NUM}), w2 = ({NUM}), b = ({NUM}), "
                                            rf"loss ({NUM})", out).groups())
    assert (w1, w2, b) == pytest.approx((2.0, -3.4, 4.2), abs=0.1)
    assert 0.005 < best < 0.02  # about the noise's variance, 0.1²
    assert float(re.search(rf"lstsq agrees: max diff ({NUM})", out).group(1)) < 1e-10

    forms = {m[0]: (int(m[1]), float(m[2]), float(m[3])) for m in re.findall(
        rf"^(batch GD|stochastic GD|mini-batch GD): .* = (\d+) steps; vs torch.optim.SGD max diff ({NUM}); "
        rf"distance to least squares ({NUM})$", out, re.M)}
    assert {k: v[0] for k, v in forms.items()} == {"batch GD": 60, "stochastic GD": 2000, "mini-batch GD": 200}
    assert all(diff < 1e-12 for _, diff, _ in forms.values())  # by hand == torch.optim.SGD after every step
    assert forms["batch GD"][2] < 1e-9  # batch GD ends on the exact answer
    for name in ("stochastic GD", "mini-batch GD"):
        assert 1e-4 < forms[name][2] < 0.05  # near it, jittering with a fixed lr

    lam, limit = map(float, re.search(rf"λ_max = ({NUM}): batch GD diverges for lr > 2/λ_max = ({NUM})",
                                      out).groups())
    assert limit == pytest.approx(2 / lam, abs=2e-3) and 0.3 < limit < 1.0

    runs = {m[0]: (float(m[1]), float(m[2]), m[3]) for m in re.findall(
        rf"^lr ({NUM}): loss ({NUM}) -> ({NUM}) in 30 steps: (.*)$", out, re.M)}
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
        logdir = parent / f"lr_{lr}"
        assert list(logdir.glob("events.out.tfevents.*")), f"no event file in {logdir}"
        acc = EventAccumulator(str(logdir))
        acc.Reload()
        logged = acc.Scalars("loss")
        assert [e.step for e in logged] == list(range(31))
        assert logged[0].value == pytest.approx(first, rel=1e-4)
        assert logged[-1].value == pytest.approx(last, rel=1e-3)
