"""Promises the READMEs make about the improved recipe, the fast path and the checkpoints, each checked
against a reference written here with plain torch/torchvision (see tests/README.md, "Promises and their
tests"). In-process and on tiny tensors: the whole file runs in a few seconds."""

import argparse
import os
import random
import types

from common import paths
from common.beyond_course import amp, checkpoint, fastdata, models, pictures, recipe
from common.errors import LessonError

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler
from torchvision import datasets, transforms
from torchvision import models as tv_models

from helpers import make_folder, shell_split
from test_08_train_amp import gpu, mps  # the device mocks, written once

# --- the improved recipe (08_train/README.md "After the course") -----------------------------------


def test_the_recipes_train_with_the_settings_the_readme_names():
    course, improved = recipe.defaults(), recipe.defaults("improved")
    # the course: Tudui, 10 epochs, batches of 64, SGD at 0.01, no augmentation, float32
    assert {k: course[k] for k in ("model", "epochs", "batch_size", "lr", "augment", "amp")} == {
        "model": "tudui",
        "epochs": 10,
        "batch_size": 64,
        "lr": 0.01,
        "augment": False,
        "amp": "float32",
    }
    # improved: TuduiBN, 24 epochs, the rate warms up to 0.1, augmentation on; the folder name is compared
    # with the course's settings, so "recipe" stays "course" in the defaults
    assert {k: improved[k] for k in ("model", "epochs", "batch_size", "lr", "augment", "recipe", "seed")} == {
        "model": "tudui_bn",
        "epochs": 24,
        "batch_size": 64,
        "lr": 0.1,
        "augment": True,
        "recipe": "course",
        "seed": 0,
    }
    assert recipe.LABEL_SMOOTHING == {"course": 0.0, "improved": 0.1}


def test_the_improved_optimizer_is_nesterov_sgd_with_weight_decay_under_one_cycle():
    """Two steps of the recipe's optimizer against the update rule written out by hand."""
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    p0 = [q.detach().clone() for q in model.parameters()]
    lr, epochs, steps = 0.1, 2, 5
    optimizer, scheduler = recipe.improved_optimizer(model, lr, epochs, steps)
    group = optimizer.param_groups[0]
    assert group["nesterov"] and group["weight_decay"] == 5e-4 and group["dampening"] == 0
    # one-cycle: from lr/25 up to lr in the first 30% of the steps, then down to lr/25/1e4; the momentum
    # cycles the other way, 0.95 -> 0.85 -> 0.95 (OneCycleLR's own, it replaces the 0.9 given to SGD)
    seen = []
    grads = [[torch.randn_like(q) for q in p0] for _ in range(epochs * steps)]
    for g in grads:
        seen.append((group["lr"], group["momentum"]))
        for q, gq in zip(model.parameters(), g, strict=True):
            q.grad = gq.clone()
        optimizer.step()
        scheduler.step()
    lrs, moms = zip(*seen, strict=True)
    assert lrs[0] == pytest.approx(lr / 25) and lrs[1] == pytest.approx((lr + lr / 25) / 2) and lrs[2] == lr
    assert lrs[-1] == pytest.approx(lr / 25 / 1e4) and max(lrs) == lr
    assert moms[0] == pytest.approx(0.95) and moms[2] == pytest.approx(0.85) and moms[-1] == pytest.approx(0.95)
    # the same ten steps by hand: d = g + wd * p; buf = m * buf + d; p -= lr * (d + m * buf)
    want = [q.clone() for q in p0]
    bufs = [None] * len(want)
    for (step_lr, m), g in zip(seen, grads, strict=True):
        for k, (q, gq) in enumerate(zip(want, g, strict=True)):
            d = gq + 5e-4 * q
            bufs[k] = d.clone() if bufs[k] is None else m * bufs[k] + d
            q -= step_lr * (d + m * bufs[k])
    for q, w in zip(model.parameters(), want, strict=True):
        assert torch.allclose(q, w, atol=1e-7), (q - w).abs().max()


def test_augmentation_is_a_reflect_padded_random_crop_and_a_flip_half_the_time():
    """Each augmented picture is one of the 9 x 9 crops of the 4-px reflect-padded picture, flipped or not
    (every candidate cut here with plain slicing); the crops reach every offset, about half are flipped."""
    torch.manual_seed(0)
    n, size, pad = 300, 12, 4  # 12 > 2 * pad: no crop is another one flipped
    x = torch.rand(n, 3, size, size)
    out = recipe.random_crop_flip(x)  # the default padding: the README's 4 px
    assert out.shape == x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    found = torch.zeros(n, dtype=torch.long)
    offsets, flips = set(), 0
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[:, :, dy : dy + size, dx : dx + size]
            for flip, cand in ((0, crop), (1, crop.flip(3))):
                match = (cand == out).flatten(1).all(1)
                found += match
                offsets |= {(dy, dx)} if match.any() else set()
                flips += flip * int(match.sum())
    assert found.tolist() == [1] * n, "an augmented picture is no crop of the padded picture (or several)"
    assert {dy for dy, _ in offsets} == set(range(9)) == {dx for _, dx in offsets}
    assert 0.35 < flips / n < 0.65


class PlainTuduiBN(nn.Module):
    """The README's improved model from plain layers: each 5x5 conv (no bias) -> BatchNorm -> ReLU -> pool,
    then Linear(1024, 64) -> ReLU -> Linear(64, classes)."""

    def __init__(self, classes):
        super().__init__()
        layers = []
        for c_in, c_out in ((3, 32), (32, 32), (32, 64)):
            layers += [
                nn.Conv2d(c_in, c_out, 5, padding=2, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
        self.model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(1024, 64), nn.ReLU(), nn.Linear(64, classes))

    def forward(self, x):
        return self.model(x)


def test_tudui_bn_computes_what_the_plain_layers_compute_in_train_and_eval_mode():
    torch.manual_seed(0)
    ours, plain = models.build_model("tudui_bn", 3), PlainTuduiBN(3)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(6, 3, 32, 32)
    ours.train(), plain.train()
    assert torch.allclose(ours(x), plain(x), atol=1e-6)  # batch statistics, and the running averages updated
    for k, v in plain.state_dict().items():
        assert torch.allclose(ours.state_dict()[k].float(), v.float(), atol=1e-6), k
    ours.eval(), plain.eval()
    assert torch.allclose(ours(x[:1]), plain(x[:1]), atol=1e-6)  # eval: the running averages, one picture alone
    assert checkpoint.guess_arch(ours.state_dict()) == "tudui_bn"


# --- the fast path (08_train/README.md "Speed") -----------------------------------------------------


@pytest.fixture
def lessons_home(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "DATASET_DIR", tmp_path / "dataset")
    return tmp_path


def test_fast_batches_are_channels_last_and_follow_a_sampler_as_a_dataloader_does():
    images = torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8)
    labels = torch.arange(10)
    for cl in (True, False):
        x, y = next(iter(fastdata.TensorBatches(images, labels, 4, False, torch.device("cpu"), channels_last=cl)))
        assert x.is_contiguous(memory_format=torch.channels_last if cl else torch.contiguous_format)
        assert torch.equal(x, images[:4].float() / 255) and torch.equal(y, labels[:4])
    # left out: the classic layout (benchmark.py's "fast" row, without channels_last)
    x, _ = next(iter(fastdata.TensorBatches(images, labels, 4, False, torch.device("cpu"))))
    assert x.is_contiguous() and not x.is_contiguous(memory_format=torch.channels_last)
    # DDP: a DistributedSampler picks which pictures this process gets, exactly as for a DataLoader
    reference = TensorDataset(images.float() / 255, labels)
    for rank in (0, 1):
        kw = dict(num_replicas=2, rank=rank, shuffle=True, seed=3)
        fast = fastdata.TensorBatches(
            images, labels, 2, False, torch.device("cpu"), sampler=DistributedSampler(reference, **kw)
        )
        course = DataLoader(reference, batch_size=2, sampler=DistributedSampler(reference, **kw))
        assert len(fast) == len(course) == 3
        for (x, y), (rx, ry) in zip(fast, course, strict=True):
            assert torch.equal(x, rx) and torch.equal(y, ry)


def test_fast_batches_of_cifar10_equal_its_dataloader_with_totensor():
    """The real CIFAR-10 class (its arrays set here, no download): HWC uint8 -> the DataLoader's CHW floats."""
    ds = datasets.CIFAR10.__new__(datasets.CIFAR10)
    ds.data = torch.randint(
        0, 256, (10, 32, 32, 3), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    ).numpy()
    ds.targets, ds.transform, ds.target_transform = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3], transforms.ToTensor(), None
    for batch_size in (5, 4):  # a last batch full, and one of 2
        fast = fastdata.TensorBatches(*fastdata.as_uint8_tensors(ds), batch_size, False, torch.device("cpu"))
        course = DataLoader(ds, batch_size=batch_size)
        assert len(fast) == len(course)
        for (x, y), (rx, ry) in zip(fast, course, strict=True):
            assert torch.equal(x, rx) and torch.equal(y, ry)


def test_a_picture_the_fast_path_cannot_use_is_one_line_naming_it(lessons_home):
    make_folder(lessons_home / "c", classes=["a", "b"], train=1, val=1)  # 40x30 pictures: not CIFAR-10's size
    with pytest.raises(LessonError, match=r"0\.jpg is 40x30, CIFAR-10 images are 32x32$"):
        fastdata.as_uint8_tensors(datasets.ImageFolder(str(lessons_home / "c" / "val")))
    (lessons_home / "c" / "val" / "a" / "0.jpg").write_bytes(b"not a picture")
    with pytest.raises(LessonError, match=r"^cannot decode .*0\.jpg as an image \(.+\)$"):
        fastdata.as_uint8_tensors(datasets.ImageFolder(str(lessons_home / "c" / "val")))


def test_your_pictures_on_the_fast_path_are_the_classic_loader_s_tensors(lessons_home, capsys):
    root = make_folder(lessons_home / "pics")
    train, _, classes = pictures.picture_data(root, size=32)
    images, labels = fastdata.as_uint8_tensors(train)
    classic = next(iter(DataLoader(train, batch_size=len(train))))
    assert torch.equal(images.float() / 255, classic[0]) and torch.equal(labels, classic[1])
    # and what plain torchvision makes of the same files: RGB (the transparent one over white), Resize, ToTensor
    plain = datasets.ImageFolder(
        str(root / "train"), transform=transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])
    )
    assert plain.classes == classes and [t for _, t in plain.samples] == labels.tolist()
    opaque = [i for i, (p, _) in enumerate(plain.samples) if not p.endswith(".png")]
    assert torch.allclose(images[opaque].float() / 255, torch.stack([plain[i][0] for i in opaque]), atol=1 / 255)


def test_the_decode_cache_is_renamed_when_a_picture_changes(lessons_home):
    ds = datasets.ImageFolder(str(make_folder(lessons_home / "pics", train=1, val=1) / "val"))
    before = fastdata.cache_path(ds)
    assert before == fastdata.cache_path(ds) and before.parent == paths.DATASET_DIR / "cache"
    st = os.stat(ds.samples[0][0])
    os.utime(ds.samples[0][0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the picture edited: a new cache
    assert fastdata.cache_path(ds) != before


def test_a_damaged_or_wrong_cache_is_ignored(tmp_path):
    good = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    fastdata._save_cache(good, tmp_path / "c.pt")
    assert torch.equal(fastdata._load_cache(tmp_path / "c.pt", 2), good)
    assert fastdata._load_cache(tmp_path / "c.pt", 3) is None  # another number of pictures
    torch.save(good.float(), tmp_path / "f.pt")
    assert fastdata._load_cache(tmp_path / "f.pt", 2) is None  # not uint8
    (tmp_path / "d.pt").write_bytes(b"half a file")
    assert fastdata._load_cache(tmp_path / "d.pt", 2) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "d.pt", "f.pt"]  # no temp file left


RAN = []


def _ran(what):
    RAN.append(what)


class _RunsCodeWhenUnpickled:
    def __reduce__(self):
        return _ran, ("unpickled",)  # unpickling calls _ran("unpickled")


def test_the_decode_cache_is_read_without_running_code(tmp_path):
    torch.save(_RunsCodeWhenUnpickled(), tmp_path / "c.pt")  # what a swapped cache file could hold
    assert fastdata._load_cache(tmp_path / "c.pt", 2) is None and RAN == []


# --- checkpoints (07_save_load/README.md "Loading checkpoints safely", 09_inference/README.md) ----------------


@pytest.mark.parametrize("arch", models.ALL_ARCHS)
def test_each_architecture_is_recognised_by_its_weights_and_rebuilt(arch):
    weights = models.build_model(arch, 3).state_dict()
    assert checkpoint.guess_arch(weights) == arch
    ck = checkpoint.as_checkpoint({"model": weights, "classes": ["a", "b", "c"]}, "x.pth")
    rebuilt = checkpoint.model_from_checkpoint(ck)
    assert all(torch.equal(v, rebuilt.state_dict()[k]) for k, v in weights.items())


def test_weights_that_do_not_fit_say_how(tmp_path):
    model = models.build_model("tudui")
    weights = model.state_dict()
    for broken, words in (
        ({k: v for k, v in weights.items() if k != "model.8.bias"}, "missing 1 key(s) e.g. model.8.bias"),
        (dict(weights, extra=torch.zeros(1)), "1 unexpected key(s) e.g. extra"),
        (
            dict(weights, **{"model.8.bias": torch.zeros(3)}),
            "shape mismatch model.8.bias (3,) vs (10,) (checkpoint vs model)",
        ),
    ):
        with pytest.raises(Exception, match=r"does not fit Tudui: " + words.replace("(", r"\(").replace(")", r"\)")):
            checkpoint.load_weights(models.build_model("tudui"), broken)
    assert checkpoint.describe({"conv1.weight": 0, "conv1.bias": 0}).startswith("07_save_load's small demo")


def _save(path, data_kind, accuracy, mtime):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {}, "data": {"kind": data_kind, "images": 300}, "test_accuracy": accuracy}, path)
    os.utime(path, (mtime, mtime))
    return path


def test_predict_picks_the_newest_full_cifar10_checkpoint_and_names_a_newer_one_it_passed_over(tmp_path, capsys):
    shipped = tmp_path / "shipped.pth"
    shipped.write_bytes(b"")
    ck = tmp_path / "checkpoints"
    assert checkpoint.choose_model(None, ck, shipped) == (
        shipped,
        "shipped with the lessons, trained on the full CIFAR-10",
    )
    old_full = _save(ck / "a" / "tudui_10.pth", "full", 0.5, 1000)
    newer_full = _save(ck / "b" / "tudui_10.pth", "full", 0.57, 2000)
    newest_subset = _save(ck / "c" / "tudui_1.pth", "subset", 0.2, 3000)
    capsys.readouterr()
    path, why = checkpoint.choose_model(None, ck, shipped)
    assert path == newer_full != old_full and why == "the newest trained on the full CIFAR-10 (test accuracy 0.5700)"
    assert capsys.readouterr().out == (
        f"note: your newest checkpoint was trained on 300 images only (test accuracy "
        f"0.2000): pass --checkpoint {paths.shell_arg(newest_subset)} to use it\n"
    )
    assert checkpoint.choose_model(None, ck, shipped, exclude=[ck / "b"])[0] == old_full
    assert checkpoint.choose_model(str(newest_subset), ck, shipped) == (newest_subset, "--checkpoint")


def test_a_file_without_a_model_says_what_it_holds(tmp_path):
    """Each kind of file that is not a model gets its own one-line explanation (read through read_checkpoint,
    then model_from_checkpoint, as predict.py does); the words name what the file holds."""
    small = nn.Module()  # a network a learner wrote, with the course's attribute name but fewer layers
    small.model = nn.Sequential(nn.Conv2d(3, 32, 5, padding=2))
    cases = {
        "settings.pth": ({"epoch": 3, "lr": 0.01}, "does not hold a model (found a dict)"),
        "empty.pth": ({}, "does not hold a model (found a dict)"),
        "no_weights.pth": ({"model": {}}, "cannot tell which network these weights belong to (it holds no weights"),
        "linear.pth": (nn.Linear(4, 2).state_dict(), "(it holds weights of 2 tensors, e.g. bias)"),
        "small.pth": (small.state_dict(), "(it holds weights of 2 tensors, e.g. model.0.bias)"),
        "layers.pth": ([nn.ReLU()], "holds a list, not a model"),  # whole-model style, allowlisted, not a model
    }
    for name, (obj, words) in cases.items():
        torch.save(obj, tmp_path / name)
        with pytest.raises(LessonError) as caught:
            checkpoint.model_from_checkpoint(checkpoint.read_checkpoint(tmp_path / name), name)
        assert words in str(caught.value), (name, str(caught.value))


def test_other_networks_weights_are_named_in_the_error():
    # VGG16 (lessons 06/07) is named; SqueezeNet, which shares its first key name, is not called a VGG16
    with torch.device("meta"):  # the key names only: no memory for 138M weights
        vgg, squeeze = tv_models.vgg16().state_dict(), tv_models.squeezenet1_1().state_dict()
    assert checkpoint.describe(vgg).startswith("a VGG16 (06/07 lessons)")
    assert checkpoint.describe(squeeze) == f"weights of {len(squeeze)} tensors, e.g. {sorted(squeeze)[0]}"


def test_the_first_missing_unexpected_and_misshapen_key_is_named():  # in the model's order, or the file's
    weights = models.build_model("tudui").state_dict()
    first_layer_gone = {k: v for k, v in weights.items() if not k.startswith("model.0.")}
    with pytest.raises(LessonError, match=r"missing 2 key\(s\) e\.g\. model\.0\.weight --"):
        checkpoint.load_weights(models.build_model("tudui"), first_layer_gone)
    with pytest.raises(LessonError, match=r"2 unexpected key\(s\) e\.g\. extra_a --"):
        checkpoint.load_weights(
            models.build_model("tudui"), dict(weights, extra_a=torch.zeros(1), extra_b=torch.zeros(1))
        )
    misshapen = dict(weights, **{"model.0.weight": torch.zeros(16, 3, 5, 5), "model.8.bias": torch.zeros(3)})
    with pytest.raises(LessonError, match=r"shape mismatch model\.0\.weight \(16, 3, 5, 5\) vs \(32, 3, 5, 5\)"):
        checkpoint.load_weights(models.build_model("tudui"), misshapen)


def test_the_command_a_run_ends_with_runs_predict_on_the_picture_with_the_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = os.path.relpath(paths.REPO_ROOT / "09_inference" / "predict.py")
    ckpt, photo = "my runs/tudui_1.pth", "猫 1.jpg"
    assert shell_split(checkpoint.predict_command(ckpt)) == ["python", script, "--checkpoint", ckpt]
    assert shell_split(checkpoint.predict_command(ckpt, photo)) == ["python", script, photo, "--checkpoint", ckpt]


def test_files_in_checkpoints_that_are_not_a_run_s_checkpoint_are_passed_over_without_a_note(tmp_path, capsys):
    ck = tmp_path / "checkpoints"
    full = _save(ck / "a" / "tudui_10.pth", "full", 0.5, 1000)
    bare = ck / "mine" / "weights.pth"  # newer: a learner's own torch.save(model.state_dict())
    bare.parent.mkdir()
    torch.save(models.build_model("tudui").state_dict(), bare)
    junk = ck / "mine" / "notes.pth"  # newest: not a checkpoint at all
    junk.write_bytes(b"not a checkpoint")
    capsys.readouterr()
    assert checkpoint.choose_model(None, ck, tmp_path / "shipped.pth")[0] == full
    assert capsys.readouterr().out == ""  # no "your newest checkpoint was trained on ..." for them


def test_no_checkpoint_is_unpickled_with_code_allowed(tmp_path):
    """read_checkpoint (--checkpoint, --resume) and choose_model (predict.py's search of checkpoints/) read a
    malicious file without running it: what plain pickle would run is refused, or passed over."""
    from test_09_inference import _Payload  # unpickling it runs a command

    marker = tmp_path / "PWNED"
    evil = tmp_path / "checkpoints" / "run" / "tudui_1.pth"
    evil.parent.mkdir(parents=True)
    torch.save({"arch": "tudui", "model": models.build_model("tudui").state_dict(), "x": _Payload(marker)}, evil)
    with pytest.raises(LessonError, match="refusing to load"):
        checkpoint.read_checkpoint(evil)
    assert checkpoint.choose_model(None, tmp_path / "checkpoints", evil)[1].startswith("shipped")  # passed over
    assert not marker.exists(), "the payload ran!"


# --- mixed precision (08_train/README.md "Speed": the table of what --amp uses per device) ----------------


def _xpu_without_the_property(mp):
    mp.setattr(torch.xpu, "get_device_properties", lambda d=None: object())  # an older driver: not reported
    return torch.device("xpu:0")


EDGES = {  # the first and last devices of each row of the README's table, and version strings with suffixes
    "A100 (8.0)": (gpu((8, 0)), "bfloat16"),
    "V100 (7.0)": (gpu((7, 0)), "float16"),
    "Jetson Nano (5.3)": (gpu((5, 3)), "float16"),
    "Jetson TX2 (6.2)": (gpu((6, 2)), "float16"),
    "Maxwell (5.2)": (gpu((5, 2)), "float32"),
    "Jetson Orin (8.7)": (gpu((8, 7)), "bfloat16"),
    "Intel GPU, bf16 not reported": (_xpu_without_the_property, "float16"),
    "Apple GPU, torch 2.8 nightly": (mps("2.8.0a0+git1234"), "float16"),
    "Apple GPU, torch 2.7": (mps("2.7.0"), "float32"),
}


@pytest.mark.parametrize("case", EDGES)
def test_amp_at_the_edges_of_each_row(case, monkeypatch, capsys):
    setup, want = EDGES[case]
    assert amp.amp_precision("auto", setup(monkeypatch)) == want
    out = capsys.readouterr().out
    assert out.startswith(f"amp: {want}" if want != "float32" else "amp: off — ") and out.count("\n") == 1


def test_the_speed_flags_default_to_the_fast_loader_and_channels_last(capsys):
    p = amp.add_speed_args(argparse.ArgumentParser())
    args = p.parse_args([])
    assert (args.loader, args.channels_last, args.compile, args.amp) == ("fast", True, False, None)
    assert p.parse_args(["--no-channels-last", "--loader", "classic"]).channels_last is False
    p.print_help()
    help_text = " ".join(capsys.readouterr().out.split())
    assert ("Default: --no-amp" if recipe.AMP == "float32" else "Default: --amp") in help_text


# --- your pictures: the lines after training (06_pretrained/README.md "What the lines mean") -------------


def test_the_split_sends_the_val_fraction_of_each_class_and_at_least_one_each_way():
    for n, fraction, want_val in (
        (10, 0.2, 2),
        (10, 0.25, 2),
        (2, 0.2, 1),
        (3, 0.9, 2),
        (7, 0.5, 4),
        (5, 0.2, 1),
        (4, 0.1, 1),
    ):
        files = [f"{k}.jpg" for k in range(n)]
        train, val = pictures._split(files, fraction, random.Random(0))
        assert len(val) == want_val and sorted(train + val) == sorted(files) and not set(train) & set(val)
        assert train == sorted(train) and val == sorted(val)


def test_per_class_lines_count_each_class_against_plain_counting():
    classes, truth = ["a", "b", "c"], [0, 0, 0, 1, 1, 2, 2, 2, 2]
    preds = [0, 1, 0, 1, 1, 2, 0, 2, 1]
    lines = pictures.per_class_lines("finetune", preds, truth, classes, [2, 2, 0, 1], "hint")
    # by hand: a 2/3, b 2/2, c 2/4; the biggest class in train is c (val share 4/9 = 0.4444 < 6/9 right)
    assert lines == [
        "finetune: val accuracy per class: a 0.6667 (2/3), b 1.0000 (2/2), c 0.5000 (2/4); mean over classes 0.7222"
    ]
    worse = [2] * 9  # always c: 4/9 right, exactly the baseline
    assert pictures.per_class_lines("x", worse, truth, classes, [2, 2, 0, 1], "hint")[1] == (
        "x: val accuracy 0.4444 does not beat always answering c (0.4444, the biggest class in train): it may "
        "only have learnt which class is most common; hint"
    )
    assert pictures.biggest_class([1, 0, 1], [0, 1, 1, 1]) == (1, 0.75)
    # a class with no val pictures (a --limit subset): shown as 0/0, counted as 0 in the mean
    assert pictures.per_class_lines("x", [0, 1], [0, 1], classes, [0, 1], "")[0].endswith(
        "a 1.0000 (1/1), b 1.0000 (1/1), c 0.0000 (0/0); mean over classes 0.6667"
    )


def test_predictions_targets_and_files_follow_a_limit_subset(tmp_path, capsys):
    root = make_folder(tmp_path / "pics")
    train, _, classes = pictures.picture_data(root, size=32, limit=5)
    base = train.dataset
    assert pictures.targets_of(train) == [base.targets[i] for i in train.indices]
    assert pictures.files_of(train) == [base.samples[i][0] for i in train.indices]
    assert pictures.targets_of(base) == base.targets and pictures.files_of(base) == [p for p, _ in base.samples]
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, len(classes)))
    batches = DataLoader(train, batch_size=2)
    preds, truth = pictures.predictions(model.train(), batches, torch.device("cpu"))
    assert not model.training  # predictions are made in eval mode
    x = torch.stack([train[i][0] for i in range(len(train))])
    with torch.no_grad():
        assert torch.equal(preds, model(x).argmax(1)) and truth.tolist() == pictures.targets_of(train)


def test_broken_pictures_are_not_counted_as_pictures_left_on_disk(tmp_path, capsys):
    make_folder(tmp_path / "p", classes=["a", "b"], train=2, val=0)
    files = sorted((tmp_path / "p" / "train").rglob("*.jpg"))
    files[0].write_bytes(b"broken")
    broken = pictures.Decoded(size=(8, 8)).read_all(files)
    assert [p for p, _ in broken] == [files[0]]
    assert capsys.readouterr().out == ""  # all the others kept in memory: no "read from disk again" note


def test_class_weights_stay_finite_for_a_class_with_no_pictures():
    w = pictures.class_weights([0, 0, 1], 3)  # e.g. a --limit subset that drew no picture of class 2
    assert w.tolist() == pytest.approx([0.5, 1.0, 1.0])


def test_pictures_beyond_the_memory_budget_are_read_again_and_the_note_counts_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pictures, "MEMORY_BUDGET", 600)  # three 8x8 RGB pictures (576 bytes), not a fourth
    make_folder(tmp_path / "p", classes=["a", "b"], train=2, val=0)
    files = sorted((tmp_path / "p" / "train").rglob("*.jpg"))[:4]
    decoded = pictures.Decoded(size=(8, 8))
    assert decoded.read_all(files) == [] and list(decoded.images) == files[:3]
    assert capsys.readouterr().out == (
        "note: the resized pictures need over 0 GB of memory: 1 of them are read from disk again each epoch (slower)\n"
    )
    assert decoded(files[3]).size == (8, 8)  # read again, at the same size


def test_the_memory_budget_counts_every_byte(tmp_path, monkeypatch):
    make_folder(tmp_path / "p", classes=["a", "b"], train=2, val=0)
    files = sorted((tmp_path / "p" / "train").rglob("*.jpg"))[:3]
    for budget, kept in ((2 * 192, 2), (2 * 192 - 1, 1)):  # two 8x8 RGB pictures fit exactly, or not
        monkeypatch.setattr(pictures, "MEMORY_BUDGET", budget)
        decoded = pictures.Decoded(size=(8, 8))
        assert decoded.read_all(files) == [] and list(decoded.images) == files[:kept], budget


def test_the_memory_note_names_the_2_gb_kept_and_counts_only_readable_pictures(monkeypatch, capsys):
    # pictures of 20000 x 20000 pixels (1.2 GB each): the first is kept, the next read again each epoch
    huge = types.SimpleNamespace(width=20_000, height=20_000)  # all read_all looks at: no memory used

    def read(self, path):
        if path == "broken.jpg":
            raise LessonError(f"{path}: damaged or truncated")
        return huge

    monkeypatch.setattr(pictures.Decoded, "read", read)
    decoded = pictures.Decoded()
    assert decoded.read_all(["a.jpg", "broken.jpg", "b.jpg"]) == [("broken.jpg", ": damaged or truncated")]
    assert list(decoded.images) == ["a.jpg"]
    assert capsys.readouterr().out == (
        "note: the resized pictures need over 2 GB of memory: 1 of them are read from disk again each epoch (slower)\n"
    )


def test_your_pictures_are_cifar10_sized_unless_told(tmp_path):
    """train_gpu.py --data-root gives picture_data no size: 32x32, what Tudui and predict.py's preparation take."""
    train, val, _ = pictures.picture_data(make_folder(tmp_path / "p", classes=["a", "b"], train=1, val=1))
    assert {tuple(x.shape) for x, _ in [*train, *val]} == {(3, 32, 32)}


def test_each_picture_is_read_once_then_used_from_memory(tmp_path, capsys):
    root = make_folder(tmp_path / "p")
    train, val, _ = pictures.picture_data(root, size=32)
    first = [train[i][0] for i in range(len(train))]
    for path in root.rglob("*.*"):
        path.unlink()  # the epochs read the decoded copies, not the files
    assert all(torch.equal(train[i][0], x) for i, x in enumerate(first)) and len(val[0][0]) == 3
