"""Smoke tests for 01_dataset: the install check, MyData, the ants_label layout, ImageFolder, DataLoader."""

import ast
import inspect
import re
import shlex
import shutil
import sys
import time

import numpy as np
import pytest
from PIL import Image

from helpers import REPO, one_line_error, read_events


def test_smoke_install_check_versions_gpu_and_the_two_tools(run_script):
    import torch
    import torchvision

    r = run_script("01_dataset/install_check.py")
    assert r.returncode == 0, r
    assert f"torch.__version__: {torch.__version__}\n" in r.stdout
    assert f"torchvision.__version__: {torchvision.__version__}\n" in r.stdout
    assert f"torch.version.cuda: {torch.version.cuda}\n" in r.stdout
    assert f"torch.cuda.is_available(): {torch.cuda.is_available()}\n" in r.stdout
    assert f"torch.accelerator.is_available(): {torch.accelerator.is_available()}\n" in r.stdout
    if not torch.accelerator.is_available():  # the reason given fits this build
        reason = "CPU-only build" if torch.version.cuda is None else "nvidia-smi"
        assert "The likely reason:" in r.stdout and reason in r.stdout, r
    # dir(torch.cuda): the count and the first ten public names, then the is_... ones
    m = re.search(
        r"^dir\(torch\.cuda\): (\d+) names without a leading _, the first 10: (\[.*\])\n"
        r"  the is_\.\.\. names ask yes/no questions: (\[.*\])",
        r.stdout,
        re.M,
    )
    assert m, r
    public = [n for n in dir(torch.cuda) if not n.startswith("_")]
    assert int(m.group(1)) == len(public) and ast.literal_eval(m.group(2)) == public[:10]
    assert "is_available" in ast.literal_eval(m.group(3))
    # a function: nothing but __dunder__ names, __call__ among them
    assert re.search(r"^dir\(torch\.cuda\.is_available\): only __names__ .*__call__", r.stdout, re.M), r
    first_doc_line = inspect.getdoc(torch.cuda.is_available).splitlines()[0]
    help_part = r.stdout.split("help(torch.cuda.is_available) starts with:", 1)[1]
    assert help_part.splitlines()[1].strip() == first_doc_line


def test_install_check_looks_at_other_names_and_names_a_typo(run_script):
    res = run_script("01_dataset/install_check.py", "--look", "torch.nn.Linear")
    assert res.returncode == 0, res
    assert re.search(r"^dir\(torch\.nn\.Linear\): \d+ names .*'add_module'", res.stdout, re.M), res
    assert "dir(torch.cuda):" not in res.stdout  # only what was asked for
    one_line_error(
        run_script("01_dataset/install_check.py", "--look", "torch.cuda.is_avaliable"),
        "no such module or name",
        "did you mean torch.cuda.is_available?",
    )


def install_check_says(monkeypatch, capsys, version, cuda, gpu, driver=None):
    """install_check.py's output on a machine faked through torch's own attributes: a build
    (``version``, ``cuda``: torch.version.cuda) with or without an NVIDIA ``gpu`` (its name),
    and nvidia-smi showing CUDA Version ``driver`` (None: no nvidia-smi)."""
    import importlib.util
    import sys

    import torch

    spec = importlib.util.spec_from_file_location("install_check", REPO / "01_dataset" / "install_check.py")
    install_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(install_check)
    for name, value in {"cuda": cuda, "hip": None, "xpu": None}.items():
        monkeypatch.setattr(torch.version, name, value, raising=False)
    monkeypatch.setattr(torch, "__version__", version)
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu is not None)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: int(gpu is not None))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: gpu)
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: gpu is not None)
    # what a build says, GPU or not: the kind it was made for (None for a CPU-only build)
    monkeypatch.setattr(
        torch.accelerator, "current_accelerator", lambda check_available=False: torch.device("cuda") if cuda else None
    )
    monkeypatch.setattr(install_check, "driver_cuda", lambda: (driver, None) if driver else (None, "not found"))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(sys, "argv", ["install_check.py", "--look", "torch.cuda.is_available"])
    install_check.main()
    return install_check, capsys.readouterr().out


def test_install_check_on_a_cpu_only_build_says_so_and_how_to_get_the_cuda_one(monkeypatch, capsys):
    # "+cpu" (download.pytorch.org's CPU wheels) or a plain version with no CUDA (pip's default on Windows)
    for version in ("2.14.1+cpu", "2.14.1"):
        install_check, out = install_check_says(monkeypatch, capsys, version, cuda=None, gpu=None, driver="12.9")
        assert f"this PyTorch is a CPU-only build ({version}, torch.version.cuda None)" in out, out
        assert "nvidia-smi: CUDA Version 12.9: an NVIDIA card that this build cannot use" in out
        assert (
            "then run the command that pytorch.org's selector gives (https://pytorch.org/get-started/locally/)" in out
        )
        assert f"\n      {install_check.CUDA_BUILD_EXAMPLE}\n" in out
        assert "current_accelerator" not in out and "GPU ready" not in out
    assert (
        install_check.CUDA_BUILD_EXAMPLE
        == "pip install torch torchvision --index-url https://download.pytorch.org/whl/cu130"
    )


def test_install_check_on_a_cuda_build_without_a_gpu_never_reads_as_cuda_in_use(monkeypatch, capsys):
    _, out = install_check_says(monkeypatch, capsys, "2.14.1+cu130", cuda="13.0", gpu=None)
    assert "torch.cuda.is_available(): False\ntorch.accelerator.is_available(): False\n" in out
    # current_accelerator() would say cuda here (the kind the build was made for): not printed
    assert "current_accelerator" not in out and ": cuda" not in out and "GPU ready" not in out
    assert "this PyTorch can use CUDA 13.0 but finds no NVIDIA GPU" in out and "CPU-only" not in out
    # a driver older than the build: update it
    _, out = install_check_says(monkeypatch, capsys, "2.14.1+cu130", cuda="13.0", gpu=None, driver="12.4")
    assert "the driver supports CUDA 12.4, but this PyTorch was built for CUDA 13.0: update the NVIDIA driver" in out


def test_install_check_on_a_cuda_build_with_a_gpu_names_it(monkeypatch, capsys):
    _, out = install_check_says(
        monkeypatch, capsys, "2.14.1+cu130", cuda="13.0", gpu="NVIDIA GeForce RTX 4060", driver="13.0"
    )
    assert (
        "torch.cuda.is_available(): True\ntorch.accelerator.is_available(): True\n"
        "torch.accelerator.current_accelerator(): cuda\ncuda:0: NVIDIA GeForce RTX 4060\n"
        "GPU ready: the lessons use cuda by default"
    ) in out, out
    assert "likely reason" not in out


def test_smoke_read_data_lengths_and_odd_files(run_script):
    r = run_script("01_dataset/read_data.py", "--offline")
    assert r.returncode == 0, r
    # no full set on disk: said in one line, then the bundled sample
    fallback = "the ants/bees data: not on disk (--offline) -> using the bundled sample (12 + 12 training images)."
    assert r.lines[0].startswith(fallback) and "Traceback" not in r.stderr, r
    # the bundled sample: 12 ants + 12 bees, concatenated with +
    assert "len(ants_dataset) = 12" in r.stdout
    assert "len(bees_dataset) = 12" in r.stdout
    assert "len(train_dataset) = 24" in r.stdout
    assert "train_dataset[11] label 'ants', train_dataset[12] label 'bees'" in r.stdout
    assert "ants_dataset[0]: 0013035.jpg -> RGB image, size (200, 133) (W, H), label 'ants'" in r.stdout
    # the real set's palette GIF is read like every other image
    assert "not RGB on disk: imageNotFound.gif (mode P)" in r.stdout
    assert "modes returned by __getitem__: ['RGB']" in r.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in viewer is a shell script (Windows: os.startfile)")
def test_read_data_show_opens_the_first_picture_in_the_image_viewer(run_script, tmp_path):
    """--show: the course's img.show(). Pillow hands the picture to the system's viewer; here a stand-in
    `xdg-open` (the only program on PATH) copies what it was given."""
    viewer, seen = tmp_path / "bin" / "xdg-open", tmp_path / "seen.png"
    viewer.parent.mkdir()
    viewer.write_text(f'#!/bin/sh\n{shutil.which("cp")} "$1" {shlex.quote(str(seen))}\n')
    viewer.chmod(0o755)
    r = run_script("01_dataset/read_data.py", "--offline", "--show", env={"PATH": str(viewer.parent)})
    assert r.returncode == 0, r
    deadline = time.monotonic() + 10  # Pillow starts the viewer and goes on
    while not seen.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    first = REPO / "01_dataset" / "samples" / "hymenoptera_data" / "train" / "ants" / "0013035.jpg"
    with Image.open(seen) as shown, Image.open(first) as original:
        assert shown.size == original.size == (200, 133)
        assert np.array_equal(np.asarray(shown), np.asarray(original.convert("RGB")))  # Pillow shows a PNG copy


def test_smoke_rename_dataset_from_its_own_folder(run_script):
    lesson = REPO / "01_dataset"
    r = run_script("01_dataset/rename_dataset.py", "--offline", cwd=lesson)
    assert r.returncode == 0, r
    # paths are anchored: the layout lands under PYTORCH_LESSONS_HOME, not under the cwd
    assert not (lesson / "dataset").exists()
    root = r.home / "dataset" / "hymenoptera_label" / "train"
    for name in ("ants", "bees"):
        images = sorted(p.stem for p in (root / f"{name}_image").iterdir())
        labels = sorted(p.stem for p in (root / f"{name}_label").iterdir())
        assert len(images) == 12 and images == labels
        assert {(root / f"{name}_label" / f"{s}.txt").read_text(encoding="utf-8") for s in labels} == {name}
    # the two files the course's split('.jpg') gets wrong have proper label files
    assert (root / "ants_label" / "formica.txt").read_text(encoding="utf-8") == "ants"
    assert (root / "ants_label" / "imageNotFound.txt").is_file()
    assert "'formica.jpeg'.split('.jpg')[0] -> 'formica.jpeg'" in r.stdout
    assert "len(ants_dataset) = 12, len(bees_dataset) = 12, len(train_dataset) = 24" in r.stdout
    assert "labels read from the .txt files: ['ants', 'bees']" in r.stdout
    assert not (REPO / "01_dataset" / "samples" / "hymenoptera_data" / "train" / "ants_image").exists()


def test_smoke_image_folder_classes_and_batch(run_script):
    r = run_script("01_dataset/image_folder.py", "--offline")
    assert r.returncode == 0, r
    assert "classes: ['ants', 'bees'], class_to_idx: {'ants': 0, 'bees': 1}" in r.stdout
    # ImageFolder does not take .gif files
    assert "len(dataset) = 23 of 24 files; skipped: imageNotFound.gif" in r.stdout
    m = re.search(
        r"dataset\[0\]: \(3, 128, 128\) torch\.float32, values (-?[\d.]+) \.\. (-?[\d.]+), "
        r"target 0 \(ants\)",
        r.stdout,
    )
    assert m, r
    lo, hi = float(m.group(1)), float(m.group(2))
    assert -1.0 <= lo < 0 < hi <= 1.0  # Normalize(0.5, 0.5) maps 0..1 to -1..1
    assert "one batch: imgs (8, 3, 128, 128)" in r.stdout
    acc = read_events(r.home / "logs" / "01_dataset" / "image_folder")
    assert acc.Tags()["images"] == ["image_folder_batch"]
    assert [e.step for e in acc.Images("image_folder_batch")] == [0]


def test_smoke_dataloader_two_epochs_of_batches(run_script):
    r = run_script("01_dataset/dataloader.py", "--offline", "--limit", "200", "--num-workers", "2")
    assert r.returncode == 0, r
    assert "using the bundled sample" in r.stdout
    assert "test_data[0]: img (3, 32, 32), target " in r.stdout
    assert (
        "200 images, batch_size 64: 3 batches with drop_last=True, 4 with drop_last=False (last batch 8)"
    ) in r.stdout
    assert "epoch 0: 3 steps" in r.stdout and "epoch 1: 3 steps" in r.stdout
    firsts = re.findall(r"epoch \d step 0: imgs \(64, 3, 32, 32\), first targets (\[.*\])", r.stdout)
    assert len(firsts) == 2 and firsts[0] != firsts[1]  # shuffle=True: a new order each epoch
    acc = read_events(r.home / "logs" / "01_dataset" / "dataloader")
    assert sorted(acc.Tags()["images"]) == ["Epoch: 0", "Epoch: 1"]
    for tag in ("Epoch: 0", "Epoch: 1"):
        assert [e.step for e in acc.Images(tag)] == [0, 1, 2]
