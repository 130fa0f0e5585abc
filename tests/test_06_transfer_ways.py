"""06_pretrained/transfer_learning.py's three ways (README: which layers train, at which learning rate),
checked on one offline run (the shipped CIFAR-10 model as task A) against the shipped weights read with a
plain torch.load and SGD's first step written out: p - lr * momentum buffer (the buffer is the gradient then)."""

import re
import time
from pathlib import Path

import hooks
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


def plain_picture(path, prepare=None):
    """A picture as plain PIL and torchvision prepare it for the CIFAR-10 model: transparent parts over
    white, then ``prepare`` (default Resize((32, 32)), ToTensor)."""
    from PIL import Image
    from torchvision.transforms import Compose, Resize, ToTensor

    img = Image.open(path)
    if img.mode == "RGBA":
        img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img)
    return (prepare or Compose([Resize((32, 32)), ToTensor()]))(img.convert("RGB"))


def training_pictures(folder, split="train"):
    """(path, class index) of each picture in folder/split, in ImageFolder's order (classes, then names)."""
    files = [(p, i) for i, c in enumerate(PET_CLASSES) for p in sorted((folder / split / c).iterdir())]
    return [(p, i) for p, i in files if p.suffix != ".txt"]


def first_shuffled_batch(folder, augment, batch_size=16):
    """The first batch a DataLoader(shuffle=True) draws from the training pictures, each augmented (plain
    torchvision ``augment``) as it is drawn, as any Dataset does: the random numbers in the script's order."""
    files = training_pictures(folder)

    class Pictures(torch.utils.data.Dataset):
        __len__ = files.__len__
        __getitem__ = lambda self, k: (plain_picture(files[k][0], prepare=augment), files[k][1])  # noqa: E731

    return next(iter(torch.utils.data.DataLoader(Pictures(), batch_size=batch_size, shuffle=True)))


def frozen_features(shipped, folder, split):
    """The shipped model without its last layer (eval mode): each picture's 64 features, and the labels."""
    from common.model import Tudui

    body = Tudui()
    body.load_state_dict(shipped)
    body.model[8] = torch.nn.Identity()
    files = training_pictures(folder, split)
    with torch.no_grad():
        return body.eval()(torch.stack([plain_picture(p) for p, _ in files])), torch.tensor([i for _, i in files])


@pytest.mark.xdist_group("ways")
def test_feature_extraction_takes_the_reference_step_on_the_frozen_layers_features(ways):
    """The new layer's one step, computed here: the frozen layers' features of each training picture,
    Linear(64, 3) as after torch.manual_seed(0), and SGD's first step p - lr * gradient. All 11 pictures
    are one batch, so their order does not matter."""
    cks, shipped, res = ways
    folder = Path(res.args[res.args.index("--data-root") + 1])
    feats, labels = frozen_features(shipped, folder, "train")
    assert len(labels) == 11
    torch.manual_seed(0)
    last = torch.nn.Linear(64, 3)
    loss = torch.nn.CrossEntropyLoss()(last(feats), labels)  # no class weights
    loss.backward()
    ck = cks["feature"]
    assert ck["train_loss"] == pytest.approx(loss.item(), abs=1e-6)  # one batch: the epoch's mean is its loss
    with torch.no_grad():
        for name, p in last.named_parameters():
            p -= 0.02 * p.grad
            torch.testing.assert_close(ck["model"][HEAD + name], p, rtol=0, atol=1e-6)
        # the val accuracy: the stepped layer's answers on the val pictures' features
        val_feats, val_labels = frozen_features(shipped, folder, "val")
        preds = last(val_feats).argmax(1)
    assert ck["val_accuracy"] == pytest.approx((preds == val_labels).float().mean().item())


@pytest.mark.xdist_group("ways")
def test_fine_tuning_s_step_is_on_randomly_cropped_and_flipped_pictures(ways):
    """The fine-tuning way's one step, computed here: the shipped model with a new Linear(64, 3) drawn after
    torch.manual_seed(0), the training pictures through plain torchvision's augmentation (Resize((32, 32)),
    RandomCrop(32, padding=4, reflect), RandomHorizontalFlip, ToTensor) in the order a
    DataLoader(shuffle=True) draws them next, and the gradients: SGD's first momentum buffers."""
    from common.model import Tudui

    from torchvision import transforms as T

    cks, shipped, res = ways
    folder = Path(res.args[res.args.index("--data-root") + 1])
    model = Tudui()
    model.load_state_dict(shipped)
    torch.manual_seed(0)
    model.model[8] = torch.nn.Linear(64, 3)
    crop = T.RandomCrop(32, padding=4, padding_mode="reflect")
    augment = T.Compose([T.Resize((32, 32)), crop, T.RandomHorizontalFlip(), T.ToTensor()])
    imgs, labels = first_shuffled_batch(folder, augment)
    loss = torch.nn.CrossEntropyLoss()(model(imgs), labels)
    loss.backward()
    ck = cks["finetune"]
    assert ck["train_loss"] == pytest.approx(loss.item(), abs=1e-6)
    buffers = [s["momentum_buffer"] for s in ck["optimizer"]["state"].values()]
    for buffer, (name, p) in zip(buffers, model.named_parameters(), strict=True):
        torch.testing.assert_close(buffer, p.grad, rtol=0, atol=1e-6, msg=name)


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


@pytest.fixture(scope="module")
def clocked(tmp_path_factory):
    """Two ways, 2 epochs of 3 steps each (11 pictures, batch 4), on a clock whose every measured time is
    known (hooks.quadratic_clock), with GradScaler's factor recorded (hooks.record_loss_scale)."""
    home = tmp_path_factory.mktemp("clocked")
    args = ["--data-root", make_folder(home / "pics"), "--offline", "--ways", "feature", "scratch"]
    args += ["--epochs", "2", "--batch-size", "4", "--device", "cpu"]
    before = (hooks.quadratic_clock, hooks.record_loss_scale)
    res = run_forked(SCRIPT, args, home, env={"TORCH_HOME": str(home / "th")}, before=before)
    assert res.returncode == 0, res
    return next((home / "checkpoints" / "transfer_learning").iterdir()), res


@pytest.mark.xdist_group("ways")
def test_feature_extraction_trains_on_the_batches_a_shuffling_dataloader_draws(clocked):
    """2 epochs of 3 steps each, computed here: after torch.manual_seed(0) the new Linear(64, 3), the two
    passes over the frozen features (each DataLoader draws a seed when it starts), then the batches of
    4 a plain DataLoader(shuffle=True) draws, new ones each epoch (after the val pass's seed);
    SGD(lr=0.01, momentum=0.9) on them.
    Each epoch's checkpoint is kept (this model's are small) and holds that epoch's weights."""
    run, res = clocked
    folder = Path(res.args[res.args.index("--data-root") + 1])
    shipped = torch.load(SHIPPED, weights_only=True)["model"]
    feats, labels = frozen_features(shipped, folder, "train")
    torch.manual_seed(0)
    last = torch.nn.Linear(64, 3)
    for n in (11, 6):  # the script's two passes over the pictures to compute their features
        iter(torch.utils.data.DataLoader(range(n), batch_size=64))
    val_pass = torch.utils.data.DataLoader(range(6), batch_size=64)
    batches = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(feats, labels), batch_size=4, shuffle=True)
    optimizer = torch.optim.SGD(last.parameters(), lr=0.01, momentum=0.9)
    for epoch in (1, 2):
        total = 0.0
        for x, y in batches:
            loss = torch.nn.CrossEntropyLoss()(last(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
        iter(val_pass)
        ck = torch.load(run / f"feature_tudui_{epoch}.pth", weights_only=True)
        assert ck["epoch"] == epoch and ck["train_loss"] == pytest.approx(total / 11, abs=1e-6)
        for name, p in last.named_parameters():
            torch.testing.assert_close(ck["model"][HEAD + name], p.detach(), rtol=0, atol=1e-6, msg=name)


@pytest.mark.xdist_group("ways")
def test_each_time_printed_is_the_one_measured_and_the_best_way_is_the_most_accurate(clocked):
    """On the clock, each measured span is n + 0.5 s and a later one is longer: every epoch line shows its
    own epoch's time, the table each way's mean of them; the next command takes the most accurate way."""
    run, res = clocked
    times, accuracy = {}, {}
    for way in ("feature", "scratch"):
        lines = [line for line in res.lines if f"({way}) epoch " in line]
        times[way] = [float(re.search(r", (\d+\.\d) s, saved ", line).group(1)) for line in lines]
        accuracy[way] = torch.load(run / f"{way}_tudui_2.pth", weights_only=True)["val_accuracy"]
        row = next(line.split() for line in res.lines if line.startswith(f"{way} "))
        assert float(row[-2]) == pytest.approx(sum(times[way]) / 2, abs=0.005), row  # s/epoch
    spans = times["feature"] + times["scratch"]
    assert all(t % 1 == 0.5 for t in spans) and spans == sorted(set(spans)), spans  # each its own epoch's
    # the slowest way here is not the most accurate, so a choice by time would name another one
    assert accuracy["feature"] > accuracy["scratch"] and times["scratch"][0] > times["feature"][-1]
    assert next(line for line in res.lines if line.startswith("next, ")).startswith("next, the feature model ")
    # --amp is float32 here (the default): GradScaler is off and leaves every step's loss as it is
    assert (res.home / "loss_scale.txt").read_text().split() == ["1.0"] * 12


def test_ctrl_c_keeps_the_finished_epochs_without_a_resume_command_and_float16_scales_the_loss(tmp_path):
    """Ctrl-C in the second epoch's save (hooks): the first epoch's checkpoint stays, the second is neither
    there nor half there, exit 130, and no --resume command (this script has none). --amp float16: each
    loss is multiplied by GradScaler's factor before backward (torch emulates float16 on this CPU)."""
    args = ["--data-root", make_folder(tmp_path / "pics"), "--offline", "--ways", "feature", "--epochs", "2"]
    before = (hooks.record_loss_scale, hooks.ctrl_c_in_the_second_save)
    res = run_forked(SCRIPT, [*args, "--amp", "float16", "--device", "cpu"], tmp_path, before=before)
    assert res.returncode == 130, res
    run = next((tmp_path / "checkpoints" / "transfer_learning").iterdir())
    assert [p.name for p in run.iterdir()] == ["feature_tudui_1.pth"]
    assert res.stderr.strip().splitlines() == [f"interrupted: the finished epochs are saved in {run}"], res
    assert "amp: float16 + GradScaler" in res.stdout
    # 11 pictures, batch 16: 1 step an epoch. At 2**16 the first step's float16 gradients overflow: GradScaler
    # skips that step and halves its factor (as it does on a GPU)
    assert (tmp_path / "loss_scale.txt").read_text().split() == [str(2.0**16), str(2.0**15)]
