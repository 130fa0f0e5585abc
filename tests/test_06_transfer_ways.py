"""06_pretrained/transfer_learning.py's three ways (README: which layers train, at which learning rate),
checked on one offline run (the shipped CIFAR-10 model as task A) against the shipped weights read with a
plain torch.load and SGD's first step written out: p - lr * momentum buffer (the buffer is the gradient then)."""

import re
import time
from pathlib import Path

import pytest
import torch

from helpers import PET_CLASSES, REPO, make_folder, read_events, run_forked

SCRIPT = "06_pretrained/transfer_learning.py"
SHIPPED = REPO / "09_inference" / "weights" / "tudui_cifar10.pth"
HEAD = "model.8."  # the course's last Linear(64, 10), replaced by Linear(64, 3)


@pytest.fixture(scope="module")
def ways(tmp_path_factory):
    """All three ways, 1 epoch each: 11 pictures, batch 16, so each way takes exactly one step."""
    home = tmp_path_factory.mktemp("ways")
    t0 = time.perf_counter()
    res = run_forked(
        SCRIPT,
        ["--data-root", make_folder(home / "pics"), "--offline", "--epochs", "1", "--lr", "0.02", "--device", "cpu"],
        home,
        env={"TORCH_HOME": str(home / "th")},
    )
    assert res.returncode == 0, res
    res.took = time.perf_counter() - t0  # the whole run: each time it prints is part of it
    run = next((home / "checkpoints" / "transfer_learning").iterdir())
    cks = {way: torch.load(run / f"{way}_tudui_1.pth", weights_only=True) for way in ("feature", "finetune", "scratch")}
    return cks, torch.load(SHIPPED, weights_only=True)["model"], res


def body(weights):
    return {k: v for k, v in weights.items() if not k.startswith(HEAD)}


def check_groups(ck, want):
    """The optimizer's groups as (lr, number of tensors), momentum 0.9 in each."""
    groups = ck["optimizer"]["param_groups"]
    assert [(g["lr"], len(g["params"])) for g in groups] == want
    assert all(g["momentum"] == 0.9 for g in groups)


@pytest.mark.xdist_group("ways")
def test_feature_extraction_trains_only_the_new_last_layer(ways):
    cks, shipped, _ = ways
    ck = cks["feature"]
    check_groups(ck, [(0.02, 2)])  # the new layer's weight and bias, at --lr
    assert all(torch.equal(v, ck["model"][k]) for k, v in body(shipped).items())  # the rest: task A's, untouched
    assert ck["model"][HEAD + "weight"].shape == (3, 64)
    # what predict.py needs: the classes, and the CIFAR-10 model's own preprocessing (32x32, no Normalize)
    assert ck["classes"] == ["狗", "猫", "鸟"] and ck["input_size"] == 32
    assert ck["resize"] is None and ck["normalize"] is None and ck["pretrained"] == "CIFAR-10 (tudui_cifar10.pth)"


@pytest.mark.xdist_group("ways")
def test_fine_tuning_moves_the_pretrained_layers_at_a_tenth_of_the_rate(ways):
    cks, shipped, _ = ways
    ck = cks["finetune"]
    check_groups(ck, [(0.002, 8), (0.02, 2)])  # 4 pretrained layers (weight + bias) at lr / 10; the new one at lr
    state = ck["optimizer"]["state"]
    for i, (k, v) in enumerate(body(shipped).items()):  # one step from task A's weights at lr / 10
        assert torch.allclose(ck["model"][k], v - 0.002 * state[i]["momentum_buffer"], atol=1e-7), k
        assert not torch.equal(ck["model"][k], v), k


@pytest.mark.xdist_group("ways")
def test_from_scratch_trains_every_layer_from_random_weights(ways):
    cks, shipped, _ = ways
    ck = cks["scratch"]
    check_groups(ck, [(0.02, 10)])
    state = ck["optimizer"]["state"]
    assert ck["pretrained"] is None
    for i, (k, v) in enumerate(body(shipped).items()):
        start = ck["model"][k] + 0.02 * state[i]["momentum_buffer"]  # the weights before the one step
        assert not torch.allclose(start, v), k  # not task A's


def plain_picture(path):
    """A picture as plain PIL and torchvision prepare it for the CIFAR-10 model: transparent parts over
    white, Resize((32, 32)), ToTensor."""
    from PIL import Image
    from torchvision.transforms import Compose, Resize, ToTensor

    img = Image.open(path)
    if img.mode == "RGBA":
        img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img)
    return Compose([Resize((32, 32)), ToTensor()])(img.convert("RGB"))


@pytest.mark.xdist_group("ways")
def test_feature_extraction_takes_the_reference_step_on_the_frozen_layers_features(ways):
    """The new layer's one step, computed here: the shipped model without its last layer (eval mode)
    gives each training picture's 64 features, Linear(64, 3) starts as after torch.manual_seed(0), and
    SGD's first step is p - lr * gradient. All 11 pictures are one batch, so their order does not matter."""
    from common.model import Tudui

    cks, shipped, res = ways
    folder = Path(res.args[res.args.index("--data-root") + 1]) / "train"
    files = [(p, i) for i, c in enumerate(PET_CLASSES) for p in sorted((folder / c).iterdir()) if p.suffix != ".txt"]
    assert len(files) == 11
    body = Tudui()
    body.load_state_dict(shipped)
    body.model[8] = torch.nn.Identity()
    with torch.no_grad():
        feats = body.eval()(torch.stack([plain_picture(p) for p, _ in files]))
    torch.manual_seed(0)
    last = torch.nn.Linear(64, 3)
    loss = torch.nn.CrossEntropyLoss()(last(feats), torch.tensor([i for _, i in files]))  # no class weights
    loss.backward()
    ck = cks["feature"]
    assert ck["train_loss"] == pytest.approx(loss.item(), abs=1e-6)  # one batch: the epoch's mean is its loss
    with torch.no_grad():
        for name, p in last.named_parameters():
            p -= 0.02 * p.grad
            torch.testing.assert_close(ck["model"][HEAD + name], p, rtol=0, atol=1e-6)
        # the val accuracy: the stepped layer's answers on the val pictures' features
        val = [(p, i) for i, c in enumerate(PET_CLASSES) for p in sorted((folder.parent / "val" / c).iterdir())]
        preds = last(body(torch.stack([plain_picture(p) for p, _ in val]))).argmax(1)
    assert ck["val_accuracy"] == pytest.approx((preds == torch.tensor([i for _, i in val])).float().mean().item())


@pytest.mark.xdist_group("ways")
def test_each_way_s_epoch_is_numbered_from_1_in_its_line_and_its_curve(ways):
    cks, _, res = ways
    for way, ck in cks.items():
        line = next(line for line in res.lines if f"({way}) epoch " in line)
        assert re.search(rf"\({way}\) epoch 1/1: .*, saved {way}_tudui_1\.pth$", line), line
        assert float(re.search(r", (\d+\.\d) s, saved ", line).group(1)) <= res.took + 0.05, (line, res.took)
        acc = read_events(Path(ck["logdir"]) / way)
        assert [(e.step, e.value) for e in acc.Scalars("val_accuracy")] == [(1, pytest.approx(ck["val_accuracy"]))]
        assert [e.step for e in acc.Scalars("train_loss")] == [1]  # 11 pictures, batch 16: one step
    feature = next(line for line in res.lines if line.startswith("feature: features of 11 + 6 pictures"))
    assert float(re.search(r"computed once \((\d+\.\d) s\)", feature).group(1)) <= res.took + 0.05, feature
    # the command it ends with runs predict.py with the best way's checkpoint
    best = max(cks, key=lambda way: cks[way]["val_accuracy"])
    nxt = next(line for line in res.lines if line.startswith("next, the "))
    assert nxt.startswith(f"next, the {best} model on a picture: ") and f"{best}_tudui_1.pth" in nxt, nxt
    folder = Path(res.args[res.args.index("--data-root") + 1])
    assert str(folder / "val" / PET_CLASSES[0] / "0.jpg") in nxt, nxt  # on the first val picture
    assert res.lines[-1] == f"final val accuracy: {cks[best]['val_accuracy']:.4f}"
