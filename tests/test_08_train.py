"""Smoke tests for 08_train: the main job, its TensorBoard output and checkpoints."""

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import hooks
import pytest
import torch

from helpers import free_port, last_line, read_events, run_fresh

ACC = re.compile(r"^final test accuracy: (0\.\d+|1\.0+)$")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short run of the main job, shared by the checks below: a fresh `python`, as a learner starts it
    (the suite's other runs are mostly forked from a process that already imported torch: launch.py)."""
    home = tmp_path_factory.mktemp("train_gpu")
    t0 = time.perf_counter()
    res = run_fresh(
        "08_train/train_gpu.py",
        [
            "--offline",
            "--limit",
            "200",
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--logdir",
            home / "tb",
            "--checkpoint-dir",
            home / "ck",
        ],
        home,
        before=hooks.progress_bars_shown,  # tqdm's bars in the run's stderr (a file: tqdm would hide them)
    )
    res.took = time.perf_counter() - t0  # the whole run: each epoch's time is part of it
    return res


@pytest.mark.xdist_group("train_gpu")  # shares the module fixture `trained`: one worker, one run
def test_smoke_train_gpu_finishes_with_accuracy_line(trained):
    assert trained.returncode == 0, trained
    assert "using the bundled sample" in trained.stdout
    assert "训练数据集的长度为: 200, 测试数据集的长度为: 200" in trained.stdout
    # what to expect on the sample is said once, with the reason (few images)
    assert trained.stdout.count("note: training on 200 images of the bundled sample (0.4% of CIFAR-10's 50,000)") == 1
    assert "this run differs from the measured ones (--limit 200, --epochs 2, --batch-size 8)" in trained.stdout
    m = ACC.match(last_line(trained))
    assert m, trained
    # the printed final accuracy is the one measured in the last epoch
    assert f"test accuracy {float(m.group(1)):.4f}" in trained.stdout
    times = re.findall(r"^epoch \d+/2: train loss \d\.\d{4} \(epoch mean\), .* (\d+\.\d) s", trained.stdout, re.M)
    assert len(times) == 2 and sum(map(float, times)) <= trained.took, (times, trained.took)
    # each epoch line's test loss and accuracy: the course's two lines just above it
    course = re.findall(r"^整体测试集上的Loss: (\d\.\d{4})\n整体测试集上的正确率: (\d\.\d{4})$", trained.stdout, re.M)
    ours = re.findall(r"^epoch \d/2: .*, test loss (\d\.\d{4}), test accuracy (\d\.\d{4}), ", trained.stdout, re.M)
    assert len(course) == 2 and ours == course, (course, ours)
    # each epoch's header (the course's) and its progress bar, numbered from 1
    assert re.findall(r"^-------第 (\d+) 轮训练开始-------$", trained.stdout, re.M) == ["1", "2"]
    assert sorted(set(re.findall(r"epoch (\d)/2: +\d+%\|", trained.stderr))) == ["1", "2"], trained.stderr[-2000:]


@pytest.mark.xdist_group("train_gpu")  # shares the module fixture `trained`: one worker, one run
def test_smoke_train_gpu_checkpoints_load_weights_only(trained):
    files = sorted(p.name for p in (trained.home / "ck").iterdir())
    assert files == ["tudui_1.pth", "tudui_2.pth"]
    ck = torch.load(trained.home / "ck" / "tudui_2.pth", weights_only=True)
    assert ck["arch"] == "tudui" and ck["epoch"] == 2
    assert ck["total_train_step"] == 2 * 25 and ck["total_test_step"] == 2
    assert set(ck) >= {"model", "optimizer"}
    # what --resume and predict.py need: the run's settings and what it was trained on
    assert ck["data"] == {"kind": "bundled sample", "images": 200}
    assert ck["settings"] == {
        "recipe": "course",
        "model": "tudui",
        "epochs": 2,
        "batch_size": 8,
        "lr": 0.01,
        "seed": 0,
        "augment": False,
        "amp": "float32",
        "data_root": None,
        "limit": 200,
    }
    assert f"train loss {ck['train_loss']:.4f} (epoch mean)" in trained.stdout
    # --channels-last, on by default with the fast loader: the model in NHWC, as its saved conv weights show
    assert ck["model"]["model.0.weight"].is_contiguous(memory_format=torch.channels_last)
    assert not ck["model"]["model.0.weight"].is_contiguous()
    from common.model import Tudui

    Tudui().load_state_dict(ck["model"])


@pytest.mark.xdist_group("train_gpu")  # shares the module fixture `trained`: one worker, one run
def test_smoke_train_gpu_tensorboard_scalars(trained):
    acc = read_events(trained.home / "tb")
    tags = set(acc.Tags()["scalars"])
    assert {"train_loss", "test_loss", "test_accuracy"} <= tags
    assert [e.step for e in acc.Scalars("train_loss")] == [25, 50]  # an epoch of 25 steps < 100
    assert [e.step for e in acc.Scalars("test_accuracy")] == [0, 1]
    final = float(ACC.match(last_line(trained)).group(1))
    assert acc.Scalars("test_accuracy")[-1].value == pytest.approx(final, abs=1e-4)
    assert all(e.value > 0 for e in acc.Scalars("test_loss"))


@pytest.mark.xdist_group("train_gpu")  # shares the module fixture `trained`: one worker, one run
def test_smoke_tensorboard_server_lists_the_run(trained):
    exe = shutil.which("tensorboard")
    cmd = [exe] if exe else [sys.executable, "-m", "tensorboard.main"]
    port = free_port()
    server = subprocess.Popen(
        cmd + ["--logdir", str(trained.home), "--port", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, runs = time.time() + 90, None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs", timeout=5) as r:
                    runs = json.load(r)
                if runs:
                    break
            except OSError:
                pass
            time.sleep(1)
        assert runs == ["tb"], runs
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_smoke_benchmark_prints_both_loops_and_the_ratio(run_script):
    res = run_script(
        "08_train/benchmark.py", "--offline", "--limit", "256", "--steps", "1", "--warmup", "0", "--repeats", "3"
    )  # three rounds of one step: a median to check, as cheap as one round of 4
    assert res.returncode == 0, res
    assert re.search(
        r"fast path one-time cost for 256 images: decode \d+\.\d\d s \(first run\), "
        r"\d+\.\d\d s with the cache warm",
        res.stdout,
    ), res
    from common.beyond_course.amp import native_amp

    short = {"bfloat16": "bf16", "float16": "fp16"}  # a row for each 16-bit float this CPU computes natively
    loops = ("classic", "fast", "fast+cl", *(f"fast+cl+{short[p]}" for p in native_amp(torch.device("cpu"))[0]))
    rounds = re.findall(r"^round (\d): (.*)$", res.stdout, re.M)
    assert [r for r, _ in rounds] == ["1", "2", "3"], res
    measured = {name: [] for name in loops}
    for _, line in rounds:
        for name, value in re.findall(r"([\w+]+) ([\d,]+)(?:, |$)", line):
            measured[name].append(int(value.replace(",", "")))
    rows = {
        name: (int(ips.replace(",", "")), float(ratio))
        for name, ips, ratio in re.findall(r"^  (classic|fast[+\w]*) +([\d,]+) +x(\d+\.\d\d)$", res.stdout, re.M)
    }
    assert set(rows) == set(loops), res
    classic = rows["classic"][0]
    for name, (ips, ratio) in rows.items():
        assert len(measured[name]) == 3 and ips == sorted(measured[name])[1], (name, measured, res)  # the median
        # the ratio is this row's images/s over classic's, to the printed precision (the images/s are rounded)
        assert ips > 0 and abs(ratio - ips / classic) <= 0.0051 + ips / classic / classic, (name, ips, ratio, res)
    # the decode cache lands under the temp home's dataset/, not in the repo
    assert list((res.home / "dataset" / "cache").glob("cifar10-u8-*.pt"))


def test_epoch_line_shows_the_mean_training_loss(run_script, tmp_path):
    """With a learning rate so small that the weights stay put, the epoch's mean training loss is the
    untrained model's loss over the training images, which this test computes on its own; the
    last batch's loss (what the course prints) differs from it."""
    from common.beyond_course.fastdata import as_uint8_tensors
    from common.data import bundled_cifar10, limit_dataset
    from common.model import Tudui

    from torch import nn

    # 257 = 32 x 8 + 1: the last batch (the one TensorBoard shows, 33 steps < 100) is a single picture
    res = run_script(
        "08_train/train_gpu.py",
        "--offline",
        "--limit",
        "257",
        "--batch-size",
        "8",
        "--epochs",
        "1",
        "--lr",
        "1e-9",
        "--no-channels-last",
        "--no-amp",
    )  # float32, as computed here
    assert res.returncode == 0, res
    printed = float(re.search(r"train loss (\d\.\d{4}) \(epoch mean\)", res.stdout).group(1))
    images, labels = as_uint8_tensors(limit_dataset(bundled_cifar10(train=True), 257))
    torch.manual_seed(0)  # the run's --seed: the same starting weights
    with torch.no_grad():
        losses = nn.CrossEntropyLoss(reduction="none")(Tudui()(images.float() / 255), labels)
    assert printed == pytest.approx(losses.mean().item(), abs=2e-4)
    acc = read_events(next((res.home / "logs" / "train_gpu").iterdir()))
    last_batch = acc.Scalars("train_loss")[-1].value  # the course's number: the last batch only
    assert (losses - last_batch).abs().min() < 1e-4  # one picture's loss
    assert abs(last_batch - printed) > 1e-3
