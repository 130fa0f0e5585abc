"""06_pretrained/transfer_learning.py's three ways (README: which layers train, at which learning rate),
checked on one offline run (the shipped CIFAR-10 model as task A) against the shipped weights read with a
plain torch.load and SGD's first step written out: p - lr * momentum buffer (the buffer is the gradient then)."""

import pytest
import torch

from helpers import REPO, make_folder, run_forked

SCRIPT = "06_pretrained/transfer_learning.py"
SHIPPED = REPO / "09_inference" / "weights" / "tudui_cifar10.pth"
HEAD = "model.8."  # the course's last Linear(64, 10), replaced by Linear(64, 3)


@pytest.fixture(scope="module")
def ways(tmp_path_factory):
    """All three ways, 1 epoch each: 11 pictures, batch 16, so each way takes exactly one step."""
    home = tmp_path_factory.mktemp("ways")
    res = run_forked(
        SCRIPT,
        ["--data-root", make_folder(home / "pics"), "--offline", "--epochs", "1", "--lr", "0.02", "--device", "cpu"],
        home,
        env={"TORCH_HOME": str(home / "th")},
    )
    assert res.returncode == 0, res
    run = next((home / "checkpoints" / "transfer_learning").iterdir())
    cks = {way: torch.load(run / f"{way}_tudui_1.pth", weights_only=True) for way in ("feature", "finetune", "scratch")}
    return cks, torch.load(SHIPPED, weights_only=True)["model"]


def body(weights):
    return {k: v for k, v in weights.items() if not k.startswith(HEAD)}


def check_groups(ck, want):
    """The optimizer's groups as (lr, number of tensors), momentum 0.9 in each."""
    groups = ck["optimizer"]["param_groups"]
    assert [(g["lr"], len(g["params"])) for g in groups] == want
    assert all(g["momentum"] == 0.9 for g in groups)


@pytest.mark.xdist_group("ways")
def test_feature_extraction_trains_only_the_new_last_layer(ways):
    cks, shipped = ways
    ck = cks["feature"]
    check_groups(ck, [(0.02, 2)])  # the new layer's weight and bias, at --lr
    assert all(torch.equal(v, ck["model"][k]) for k, v in body(shipped).items())  # the rest: task A's, untouched
    assert ck["model"][HEAD + "weight"].shape == (3, 64)
    # what predict.py needs: the classes, and the CIFAR-10 model's own preprocessing (32x32, no Normalize)
    assert ck["classes"] == ["狗", "猫", "鸟"] and ck["input_size"] == 32
    assert ck["resize"] is None and ck["normalize"] is None and ck["pretrained"] == "CIFAR-10 (tudui_cifar10.pth)"


@pytest.mark.xdist_group("ways")
def test_fine_tuning_moves_the_pretrained_layers_at_a_tenth_of_the_rate(ways):
    cks, shipped = ways
    ck = cks["finetune"]
    check_groups(ck, [(0.002, 8), (0.02, 2)])  # 4 pretrained layers (weight + bias) at lr / 10; the new one at lr
    state = ck["optimizer"]["state"]
    for i, (k, v) in enumerate(body(shipped).items()):  # one step from task A's weights at lr / 10
        assert torch.allclose(ck["model"][k], v - 0.002 * state[i]["momentum_buffer"], atol=1e-7), k
        assert not torch.equal(ck["model"][k], v), k


@pytest.mark.xdist_group("ways")
def test_from_scratch_trains_every_layer_from_random_weights(ways):
    cks, shipped = ways
    ck = cks["scratch"]
    check_groups(ck, [(0.02, 10)])
    state = ck["optimizer"]["state"]
    assert ck["pretrained"] is None
    for i, (k, v) in enumerate(body(shipped).items()):
        start = ck["model"][k] + 0.02 * state[i]["momentum_buffer"]  # the weights before the one step
        assert not torch.allclose(start, v), k  # not task A's
