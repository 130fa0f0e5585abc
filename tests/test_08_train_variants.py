"""08_train variants: train.py (CPU), train_gpu_1.py (.cuda(), way 1), train_gpu.py --model resnet34 (note 004)."""

import re

from common.beyond_course.checkpoint import model_from_checkpoint, read_checkpoint

import torch

from helpers import PET_CLASSES, last_line, make_folder, read_events

ACC = re.compile(r"^final test accuracy: (0\.\d{4}|1\.0000)$")
EPOCH_TIME = re.compile(r"^epoch (\d+)/(\d+): train loss \d\.\d{4} \(epoch mean\).*\b\d+\.\d s\b", re.M)


def checkpoints(res, name):
    return sorted((res.home / "checkpoints" / name).rglob("*.pth"))


def check_checkpoint(path, arch, epoch):
    ck = torch.load(path, weights_only=True)  # a plain dict: the safe default reads it
    assert ck["arch"] == arch and ck["epoch"] == epoch
    assert {"model", "optimizer", "total_train_step", "total_test_step", "test_accuracy", "settings", "data"} <= set(ck)
    model = model_from_checkpoint(read_checkpoint(path))  # predict.py's way: rebuilds the arch
    assert set(model.state_dict()) == set(ck["model"])
    return ck


def test_smoke_train_cpu_version(run_script):
    res = run_script("08_train/train.py", "--offline", "--limit", "64", "--epochs", "2", "--batch-size", "16")
    assert res.returncode == 0, res
    assert "训练数据集的长度为: 64" in res.stdout and "测试数据集的长度为: 64" in res.stdout
    assert res.stdout.count("-------第 1 轮训练开始-------") == 1
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
    assert len(run_dirs) == 1 and run_dirs[0].name.endswith("_b16_limit64")  # the time, then what differs
    assert files[0].parent.name == run_dirs[0].name
    acc = read_events(run_dirs[0])
    assert {"train_loss", "test_loss", "test_accuracy"} <= set(acc.Tags()["scalars"])
    assert [e.step for e in acc.Scalars("test_accuracy")] == [0, 1]
    assert [e.step for e in acc.Scalars("train_loss")] == [4, 8]


def test_smoke_train_gpu_1_says_where_it_runs(run_script):
    res = run_script("08_train/train_gpu_1.py", "--offline", "--limit", "48", "--epochs", "1", "--batch-size", "16")
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


def test_smoke_train_gpu_resnet34(run_script):
    # note 004's network in the same loop: one flag, not a copy of the loop
    res = run_script(
        "08_train/train_gpu.py",
        "--model",
        "resnet34",
        "--offline",
        "--limit",
        "16",
        "--batch-size",
        "16",
        "--epochs",
        "2",
        "--device",
        "cpu",
    )
    assert res.returncode == 0, res
    assert "model: resnet34" in res.lines[0]
    assert len(EPOCH_TIME.findall(res.stdout)) == 2
    assert ACC.match(last_line(res)), res
    files = checkpoints(res, "train_gpu")
    assert [p.name for p in files] == ["resnet34_2.pth"]  # 85 MB each: only the newest is kept
    ck = check_checkpoint(files[0], "resnet34", 2)
    assert "bn1.running_mean" in ck["model"]  # BatchNorm statistics travel with the weights


def test_train_gpu_on_your_own_pictures_then_predict(run_script, tmp_path):
    """--data-root with a folder of 3 classes named in Chinese: Tudui gets 3 outputs, the checkpoint
    names the classes, and predict.py answers with one of those names."""
    folder = make_folder(tmp_path / "我的 图片")
    res = run_script("08_train/train_gpu.py", "--data-root", folder, "--epochs", "2", "--batch-size", "4")
    assert res.returncode == 0, res
    assert "11 train / 6 val pictures, 3 classes (狗, 猫, 鸟)" in res.stdout
    assert "训练数据集的长度为: 11, 测试数据集的长度为: 6" in res.stdout
    m = ACC.match(last_line(res))
    assert m, res
    (ckpt,) = [p for p in checkpoints(res, "train_gpu") if p.name == "tudui_2.pth"]
    ck = torch.load(ckpt, weights_only=True)
    assert ck["classes"] == PET_CLASSES and ck["model"]["model.8.weight"].shape == (3, 64)
    assert ck["data"] == {"kind": "pictures", "images": 11, "root": str(folder)}
    assert abs(ck["test_accuracy"] - float(m.group(1))) < 1e-4
    out = run_script("09_inference/predict.py", folder / "val" / "猫" / "1.jpg", "--checkpoint", ckpt)
    assert out.returncode == 0, out
    assert re.fullmatch(r"prediction: (狗|猫|鸟) \(\d\.\d{2,4}\)", last_line(out)), out


def test_fast_path_on_your_own_pictures_equals_the_classic_loader(tmp_path):
    """The fast path's uint8 copy of resized pictures gives exactly the classic DataLoader's batches."""
    from common.beyond_course.fastdata import TensorBatches, as_uint8_tensors
    from common.beyond_course.pictures import picture_data

    from torch.utils.data import DataLoader

    train, test, classes = picture_data(make_folder(tmp_path / "pics"))
    assert classes == PET_CLASSES
    for ds in (train, test):
        fast = list(TensorBatches(*as_uint8_tensors(ds), 4, shuffle=False, device="cpu"))
        classic = list(DataLoader(ds, batch_size=4))
        assert len(fast) == len(classic)
        for (x1, y1), (x2, y2) in zip(fast, classic, strict=True):
            assert x1.shape[1:] == (3, 32, 32) and torch.equal(x1, x2) and torch.equal(y1, y2)
