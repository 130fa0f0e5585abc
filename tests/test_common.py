"""Unit tests for the shared helpers in common/."""
import os

import pytest
import torch

from common import data, device, paths
from common.checkpoint import load_checkpoint, save_checkpoint, model_from_checkpoint
from common.cli import LessonError
from common.model import CIFAR10_CLASSES, Tudui


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
        device.pick_device("cuda")
    with pytest.raises(LessonError, match="not a device name"):
        device.pick_device("gpu0")


def test_data_falls_back_to_the_sample_when_download_fails(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(paths, "DATASET_DIR", tmp_path / "dataset")

    def no_network(*a, **k):
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(data, "_download_cifar10", no_network)
    train, test = data.load_cifar10()
    out = capsys.readouterr().out
    assert "download failed" in out and "BUNDLED SAMPLE" in out and data.CIFAR10_URL in out
    assert (len(train), len(test)) == (2500, 500)
    assert "2500 train / 500 test" in out
    img, label = train[0]
    assert img.size == (32, 32) and 0 <= label < 10


def test_dead_network_probe_is_quick():
    import time
    t = time.perf_counter()
    ok, why = data.network_reachable("https://nonexistent.invalid/x", seconds=2)
    assert not ok and why
    assert time.perf_counter() - t < 5


def test_sample_labels_follow_cifar10_order():
    train, test = data._from_folder(paths.CIFAR10_SAMPLE, None)[:2]
    assert train.classes == list(CIFAR10_CLASSES)
    assert sorted(set(train.targets)) == list(range(10))


def test_data_root_with_missing_class_folder_is_reported(tmp_path):
    for split in ("train", "test"):
        for c in CIFAR10_CLASSES[:-1]:  # no "truck"
            (tmp_path / split / c).mkdir(parents=True)
    with pytest.raises(LessonError, match="missing class folder.*truck"):
        data.load_cifar10(data_root=tmp_path)


def test_limit_takes_a_random_subset_with_all_classes():
    train, _ = data._from_folder(paths.CIFAR10_SAMPLE, None)[:2]
    sub = data.limit_dataset(train, 100, seed=0)
    assert len(sub) == 100
    assert len({train.targets[i] for i in sub.indices}) == 10


def test_checkpoint_roundtrip_is_atomic_and_weights_only(tmp_path):
    model = Tudui()
    path = tmp_path / "ck" / "tudui_1.pth"
    save_checkpoint({"arch": "tudui", "model": model.state_dict(), "epoch": 1}, path)
    assert os.listdir(path.parent) == ["tudui_1.pth"]  # no temp file left behind
    raw = torch.load(path, weights_only=True)
    assert raw["epoch"] == 1
    again = model_from_checkpoint(load_checkpoint(path))
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(again(x), model(x))
