"""08_train variants: train.py (CPU), train_gpu_1.py (.cuda(), way 1), train_resnet34.py (note 004)."""
import re

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from common.checkpoint import load_checkpoint, model_from_checkpoint
from conftest import last_line

ACC = re.compile(r"^final test accuracy: (0\.\d{4}|1\.0000)$")
EPOCH_TIME = re.compile(r"^epoch (\d+)/(\d+): .*\b\d+\.\d s\b", re.M)


def checkpoints(res, name):
    return sorted((res.home / "checkpoints" / name).rglob("*.pth"))


def check_checkpoint(path, arch, epoch):
    ck = torch.load(path, weights_only=True)  # a plain dict: the safe default reads it
    assert ck["arch"] == arch and ck["epoch"] == epoch
    assert {"model", "optimizer", "total_train_step", "total_test_step", "test_accuracy"} <= set(ck)
    model = model_from_checkpoint(load_checkpoint(path))  # predict.py's way: rebuilds the arch
    assert set(model.state_dict()) == set(ck["model"])
    return ck


def test_smoke_train_cpu_version(run_script):
    res = run_script("08_train/train.py", "--offline", "--limit", "64", "--epochs", "2", "--batch-size", "16")
    assert res.returncode == 0, res
    assert res.lines[0] == "device: cpu"  # the notes' CPU version, with no flags
    assert "训练数据集的长度为: 64, 测试数据集的长度为: 64" in res.stdout
    assert [m[0] for m in EPOCH_TIME.findall(res.stdout)] == ["1", "2"]
    m = ACC.match(last_line(res))
    assert m, res
    assert f"整体测试集上的正确率: {m.group(1)}" in res.stdout  # the last epoch's accuracy is the final one
    files = checkpoints(res, "train")
    assert [p.name for p in files] == ["tudui_1.pth", "tudui_2.pth"]
    ck = check_checkpoint(files[-1], "tudui", 2)
    assert ck["total_train_step"] == 2 * 4 and ck["total_test_step"] == 2
    assert abs(ck["test_accuracy"] - float(m.group(1))) < 1e-4
    run_dirs = list((res.home / "logs" / "train").iterdir())
    assert len(run_dirs) == 1
    acc = EventAccumulator(str(run_dirs[0]))
    acc.Reload()
    assert {"train_loss", "test_loss", "test_accuracy"} <= set(acc.Tags()["scalars"])
    assert [e.step for e in acc.Scalars("test_accuracy")] == [0, 1]
    assert [e.step for e in acc.Scalars("train_loss")] == [4, 8]


def test_smoke_train_gpu_1_says_where_it_runs(run_script):
    res = run_script("08_train/train_gpu_1.py", "--offline", "--limit", "48", "--epochs", "1",
                     "--batch-size", "16")
    assert res.returncode == 0, res
    if torch.cuda.is_available():
        assert res.lines[0].startswith("CUDA GPU: ")
    else:
        assert res.lines[0].startswith("no CUDA GPU here (torch.cuda.is_available() is False) -> training on the CPU")
    assert len(EPOCH_TIME.findall(res.stdout)) == 1
    m = ACC.match(last_line(res))
    assert m, res
    files = checkpoints(res, "train_gpu_1")
    assert [p.name for p in files] == ["tudui_1.pth"]
    ck = check_checkpoint(files[0], "tudui", 1)
    assert abs(ck["test_accuracy"] - float(m.group(1))) < 1e-4


def test_smoke_train_resnet34(run_script):
    # no --epochs: on a CPU the default is a single epoch, and the script says so
    res = run_script("08_train/train_resnet34.py", "--offline", "--limit", "32", "--batch-size", "16",
                     "--device", "cpu")
    assert res.returncode == 0, res
    assert res.lines[0].startswith("device: cpu -> a short run: --limit 32 --epochs 1 (ResNet-34 is slow")
    assert "resnet34: 21,289,802 parameters" in res.stdout
    assert "32 train / 32 test images" in res.stdout
    assert len(EPOCH_TIME.findall(res.stdout)) == 1
    assert ACC.match(last_line(res)), res
    files = checkpoints(res, "train_resnet34")
    assert [p.name for p in files] == ["resnet34_1.pth"]
    ck = check_checkpoint(files[0], "resnet34", 1)
    assert "bn1.running_mean" in ck["model"]  # BatchNorm statistics travel with the weights
