"""08_train variants: train.py (CPU), train_gpu_1.py (.cuda(), way 1), train_gpu.py --model resnet34 (note 004)."""

import re
import time

from common.beyond_course.checkpoint import model_from_checkpoint, read_checkpoint

import hooks
import pytest
import torch

from helpers import PET_CLASSES, REPO, last_line, make_cifar10_archive, make_folder, read_events, run_forked

ACC = re.compile(r"^final test accuracy: (0\.\d{4}|1\.0000)$")
EPOCH_TIME = re.compile(r"^epoch (\d+)/(\d+): train loss \d\.\d{4} \(epoch mean\).*\b(\d+\.\d) s\b", re.M)


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
    t0 = time.perf_counter()
    res = run_script("08_train/train.py", "--offline", "--limit", "64", "--epochs", "2", "--batch-size", "16")
    took = time.perf_counter() - t0
    assert res.returncode == 0, res
    assert "训练数据集的长度为: 64" in res.stdout and "测试数据集的长度为: 64" in res.stdout
    assert re.findall(r"^-------第 (\d+) 轮训练开始-------$", res.stdout, re.M) == ["1", "2"]
    epochs = EPOCH_TIME.findall(res.stdout)
    assert [m[0] for m in epochs] == ["1", "2"]
    assert all(float(m[2]) <= took + 0.05 for m in epochs), (took, epochs)  # each epoch's time, within the run's
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
    # a third epoch from it: only the newest is kept, but never the checkpoint a resume started from
    res = run_script("08_train/train_gpu.py", "--resume", files[0], "--epochs", "3")
    assert res.returncode == 0, res
    assert [p.name for p in checkpoints(res, "train_gpu")] == ["resnet34_2.pth", "resnet34_3.pth"]


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
    # --resume with the same folder written another way (relative, from where the run starts) continues the run
    more = run_script("08_train/train_gpu.py", "--resume", ckpt, "--epochs", "3", "--data-root", "我的 图片")
    assert more.returncode == 0 and f"data_root {folder}" in more.lines[0], more
    assert (ckpt.parent / "tudui_3.pth").is_file()


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


# train.py where CIFAR-10's archive was downloaded before (helpers.make_cifar10_archive: a small one): the
# sizes and md5s torchvision and common check the files against are the small archive's, in the run too
WITH_SMALL_CIFAR10 = """
import runpy, sys
sys.path.insert(0, {repo!r})
from torchvision import datasets
from common.beyond_course import dataset_files
datasets.CIFAR10.train_list, datasets.CIFAR10.test_list, datasets.CIFAR10.meta, datasets.CIFAR10.tgz_md5 = {lists!r}
dataset_files.CIFAR10_BYTES = {size!r}
sys.argv = [{script!r}, *sys.argv[1:]]
runpy.run_path({script!r}, run_name="__main__")
"""


@pytest.mark.parametrize("script", ["train.py", "train_gpu.py", "train_ddp.py"])
def test_train_unpacks_the_downloaded_archive_and_trains_on_its_training_batches(tmp_path, monkeypatch, script):
    from torchvision import datasets

    batches = make_cifar10_archive(tmp_path / "cifar", monkeypatch)
    archive = tmp_path / "cifar" / datasets.CIFAR10.filename
    c = datasets.CIFAR10
    lists = (c.train_list, c.test_list, c.meta, c.tgz_md5)
    wrapper = tmp_path / "with_cifar10.py"
    script = str(REPO / "08_train" / script)
    wrapper.write_text(
        WITH_SMALL_CIFAR10.format(repo=str(REPO), lists=lists, size=archive.stat().st_size, script=script)
    )
    res = run_forked(wrapper, ["--data-root", tmp_path / "cifar", "--offline", "--epochs", "1"], tmp_path)
    assert res.returncode == 0, res
    assert (tmp_path / "cifar" / c.base_folder / "data_batch_5").is_file()  # download=True unpacked it
    train_size = sum(len(labels) for name, (_, labels) in batches.items() if name != "test_batch")
    assert f"训练数据集的长度为: {train_size}" in res.stdout, res  # 5 batches of 2 pictures
    assert f"测试数据集的长度为: {len(batches['test_batch'][1])}" in res.stdout  # test_batch: 4


@pytest.mark.parametrize("script", ["train.py", "train_gpu.py", "train_ddp.py"])
def test_train_logs_the_loss_every_100_steps(run_script, script):
    args = ["--offline", "--limit", "204", "--batch-size", "2", "--epochs", "1"]
    res = run_script(f"08_train/{script}", *args, before=hooks.progress_bars_shown)
    assert res.returncode == 0, res  # 102 steps
    assert re.findall(r"^训练次数: (\d+), Loss: \d+\.\d{4}$", res.stdout, re.M) == ["100"]
    if script != "train.py":  # and a progress bar (note 003 "4.8 tqdm"), numbered as the epochs
        assert set(re.findall(r"epoch (\d+)/1: +\d+%\|", res.stderr)) == {"1"}, res
    acc = read_events(next((res.home / "logs" / script.removesuffix(".py")).iterdir()))
    assert [e.step for e in acc.Scalars("train_loss")] == [100]


def test_train_runs_on_the_cpu_and_has_no_device_flag(run_script):
    res = run_script("08_train/train.py", "--offline", "--device", "cpu")
    assert res.returncode == 2 and "unrecognized arguments: --device cpu" in res.stderr, res
