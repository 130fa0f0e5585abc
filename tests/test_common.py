"""Unit tests for the shared helpers in common/."""

import time
from collections import Counter

from common import data, device, paths
from common.beyond_course import download, fastdata, recipe, runs
from common.beyond_course.checkpoint import model_from_checkpoint, read_checkpoint
from common.errors import LessonError
from common.model import CIFAR10_CLASSES, Tudui

import numpy as np
import pytest
import torch
from torchvision import datasets

from course_data import cifar10
from helpers import make_cifar10_archive


def test_tudui_output_shape_and_parameter_count():
    model = Tudui()
    assert model(torch.ones(64, 3, 32, 32)).shape == (64, 10)
    assert sum(p.numel() for p in model.parameters()) == 145_578


def test_tudui_has_no_activation_layers():
    kinds = {type(m).__name__ for m in Tudui().modules()}
    assert kinds == {"Tudui", "Sequential", "Conv2d", "MaxPool2d", "Flatten", "Linear"}


def test_device_falls_back_to_cpu_without_accelerator(monkeypatch):
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: False)
    assert device.pick_device() == torch.device("cpu")
    assert device.pick_device("cpu") == torch.device("cpu")


def test_device_picks_the_accelerator_when_there_is_one(monkeypatch):
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda *a, **k: torch.device("mps"))
    assert device.pick_device() == torch.device("mps")


def test_device_cuda_requested_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: False)
    with pytest.raises(LessonError, match="--device cpu"):
        device.check_device("cuda")
    with pytest.raises(LessonError, match="not a device name"):
        device.check_device("gpu0")


def test_device_index_beyond_the_gpus_here_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda *a, **k: torch.device("cuda"))
    monkeypatch.setattr(torch.accelerator, "device_count", lambda: 2)
    assert device.check_device("cuda:1") == torch.device("cuda:1")  # numbered from 0: the second of two
    assert device.check_device("cuda") == torch.device("cuda")
    with pytest.raises(LessonError, match=r"^--device cuda:2: only 2 cuda device\(s\) here \(numbered from 0\)$"):
        device.check_device("cuda:2")


def test_data_falls_back_to_the_sample_in_one_short_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(paths, "DATASET_DIR", tmp_path / "dataset")
    monkeypatch.setattr(download, "_said", set())
    monkeypatch.setattr(download, "_probe", lambda url, s: OSError("[Errno -2] Name or service not known"))
    train = cifar10(train=True)
    test = cifar10(train=False)
    lines = capsys.readouterr().out.splitlines()
    # said once for both splits, in a learner's words: what happened, what instead, how to get it (the
    # README section, in both languages), --offline
    assert len(lines) == 1 and len(lines[0]) < 250, lines  # long for the README section's two languages
    assert lines[0].startswith("could not download CIFAR-10 (no network) -> using the bundled sample")
    assert data.dataset_files.see_data_help() in lines[0] and "--offline skips this attempt" in lines[0]
    assert "Errno" not in lines[0]
    assert (len(train), len(test)) == (2500, 500)
    img, label = train[0]
    assert img.size == (32, 32) and 0 <= label < 10


def test_dead_network_probe_is_quick():
    t = time.perf_counter()
    problem = download._probe("https://nonexistent.invalid/x", seconds=2)
    assert isinstance(problem, OSError)
    assert time.perf_counter() - t < 5


def test_an_archive_in_dataset_needs_no_network(tmp_path, monkeypatch, capsys, attempts):
    """README: put cifar-10-python.tar.gz in dataset/ and run any lesson: torchvision checks it and
    unpacks it into dataset/cifar-10-batches-py/, with no network at all (here even with --offline)."""
    monkeypatch.setattr(paths, "DATASET_DIR", tmp_path / "dataset")
    monkeypatch.setattr(download, "_said", set())
    batches = make_cifar10_archive(tmp_path / "dataset", monkeypatch)
    test = cifar10(train=False, download=False)
    train = cifar10(train=True, download=False)
    assert not attempts
    assert isinstance(test, datasets.CIFAR10) and isinstance(train, datasets.CIFAR10)
    assert (tmp_path / "dataset" / "cifar-10-batches-py" / "test_batch").is_file()
    assert capsys.readouterr().out == f"data: CIFAR-10 from {tmp_path / 'dataset'}\n"
    images, labels = batches["test_batch"]
    assert np.array_equal(test.data, images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)) and test.targets == labels
    assert len(train) == 10 and train.targets == sum((batches[f"data_batch_{i}"][1] for i in range(1, 6)), [])

    # a half-copied archive fails the MD5 check: not unpacked, no download attempted (--offline), and
    # one line that names the file and says what to do
    damaged = tmp_path / "other" / "dataset"
    monkeypatch.setattr(paths, "DATASET_DIR", damaged)
    make_cifar10_archive(damaged, monkeypatch)
    archive = damaged / datasets.CIFAR10.filename
    archive.write_bytes(archive.read_bytes()[:-100])
    with pytest.raises(
        LessonError, match=f"{archive} is incomplete: .*--offline does not download it again: delete it"
    ):
        cifar10(train=False, download=False)
    assert not attempts and not (damaged / "cifar-10-batches-py").exists()


def test_sample_labels_follow_cifar10_order():
    train = data.bundled_cifar10(train=True)
    assert train.classes == list(CIFAR10_CLASSES)
    assert sorted(set(train.targets)) == list(range(10))
    assert runs.trained_on(train) == {"kind": "bundled sample", "images": 2500}
    # the 01 README's make-up: 250 training and 50 test pictures of each class
    assert Counter(train.targets) == {i: 250 for i in range(10)}
    assert Counter(data.bundled_cifar10(train=False).targets) == {i: 50 for i in range(10)}


def test_data_root_with_missing_class_folder_is_reported(tmp_path):
    for split in ("train", "test"):
        for c in CIFAR10_CLASSES[:-1]:  # no "truck"
            (tmp_path / split / c).mkdir(parents=True)
    with pytest.raises(LessonError, match="missing class folder.*truck"):
        cifar10(tmp_path, train=True)


def test_limit_takes_a_random_subset_with_all_classes():
    train = data.bundled_cifar10(train=True)
    sub = data.limit_dataset(train, 100)
    assert len(sub) == 100
    assert len({train.targets[i] for i in sub.indices}) == 10
    assert runs.trained_on(sub) == {"kind": "bundled sample", "images": 100}


def test_the_accuracy_note_promises_the_measured_range_only_to_the_runs_it_was_measured_for(capsys):
    train = data.bundled_cifar10(train=True)
    course = "0.13-0.24 after 10; the full set gives about 0.57"

    def note(given, limit=None, defaults=None):
        settings = runs.settings(defaults or recipe.defaults(given.get("recipe")), {"limit": limit, **given}, None)
        runs.note_data(data.limit_dataset(train, limit), settings)
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 1 and lines[0].startswith("note: training on "), lines
        return lines[0]

    # the measured runs: the recipe's own settings on the whole sample (seeds don't change that)
    assert note({}).endswith(course)
    assert note({"seed": 3}).endswith(course)
    assert note({}, limit=5000).endswith(course)  # a --limit above the sample's 2,500 takes all of it
    assert note({"recipe": "improved"}).endswith("about 0.6 after 24 epochs; the full set gives about 0.83")
    # train.py: the same course settings, without --recipe
    assert note({}, defaults={"model": "tudui", "epochs": 10, "batch_size": 64, "lr": 1e-2, "seed": 0}).endswith(course)
    # any other run is told that, not promised the range (a --limit 5 run ended at 0.00)
    for given, limit, said in [
        ({}, 5, "--limit 5"),
        ({"epochs": 3}, None, "--epochs 3"),
        ({"epochs": 30, "lr": 0.1}, None, "--epochs 30, --lr 0.1"),
        ({"amp": True}, None, "--amp"),
        ({"recipe": "improved", "augment": False}, None, "--no-augment"),
    ]:
        line = note(given, limit)
        assert f"this run differs from the measured ones ({said}), so there is no range to expect" in line, line
        assert "expect a test accuracy" not in line


def test_wrong_shape_cache_is_rebuilt_not_used(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "DATASET_DIR", tmp_path)
    test = data.bundled_cifar10(train=False)
    cache = fastdata.cache_path(test)
    cache.parent.mkdir(parents=True)
    torch.save(torch.zeros(499, 3, 32, 32, dtype=torch.uint8), cache)  # one image short: a stale cache
    images, labels = fastdata.as_uint8_tensors(test)
    assert images.shape == (500, 3, 32, 32) and images.float().mean() > 10
    assert torch.load(cache, weights_only=True).shape == (500, 3, 32, 32)  # replaced by a good one
    assert not list(cache.parent.glob("*.tmp"))


def test_path_checks_are_one_line_errors(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    with pytest.raises(LessonError, match="is a file, not a folder"):
        paths.check_dir(a_file, "--logdir")
    with pytest.raises(LessonError, match="is a file, so no folder can be made there"):
        paths.check_dir(a_file / "sub", "--logdir")
    with pytest.raises(LessonError, match="cannot write in /proc"):
        paths.check_dir("/proc/lessons", "--logdir")
    assert paths.check_dir(tmp_path / "new" / "deeper", "--logdir") and not (tmp_path / "new").exists()
    with pytest.raises(LessonError, match=r"does not exist") as e:
        paths.existing_file("no/such.png", "--image", "image")
    assert str((paths.Path.cwd() / "no" / "such.png")) in str(e.value)  # where it was looked for


def test_checkpoints_load_weights_only_in_all_three_shapes(tmp_path):
    model = Tudui()
    x = torch.rand(2, 3, 32, 32)
    ours, bare, whole = tmp_path / "tudui_1.pth", tmp_path / "bare.pth", tmp_path / "whole.pth"
    torch.save({"arch": "tudui", "model": model.state_dict(), "epoch": 1}, ours)
    torch.save(model.state_dict(), bare)  # 保存方式2
    torch.save(model, whole)  # 保存方式1: the whole model, read through the allowlist
    assert "common.model.Tudui" in torch.serialization.get_unsafe_globals_in_checkpoint(whole)
    for path in (ours, bare, whole):
        ckpt = read_checkpoint(path)
        assert ckpt["arch"] == "tudui"
        again = model_from_checkpoint(ckpt)
        assert torch.equal(again(x), model(x))
