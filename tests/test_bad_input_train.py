"""Issue: bad arguments and bad data give one actionable line and a non-zero exit."""
import shutil

import pytest

import conftest

from common import paths

TRAIN = "08_train/train_gpu.py"


def one_line_error(res, *needles):
    # argparse's own errors start with the script name, ours with "error: "
    return conftest.one_line_error(res, *needles, prefix="")


@pytest.mark.parametrize("flag,value", [("--epochs", "0"), ("--batch-size", "-64"), ("--lr", "0")])
def test_non_positive_arguments_are_refused(run_script, flag, value):
    res = run_script(TRAIN, "--offline", flag, value)
    one_line_error(res, flag, "positive")


def test_unknown_device_says_how_to_fall_back(run_script):
    res = run_script(TRAIN, "--offline", "--device", "cuda")
    one_line_error(res, "--device cuda", "--device cpu")
    res = run_script(TRAIN, "--offline", "--device", "tpu9")
    one_line_error(res, "not a device name")


def test_data_root_that_does_not_exist(run_script, tmp_path):
    res = run_script(TRAIN, "--data-root", tmp_path / "nope")
    one_line_error(res, "does not exist")


def test_data_root_empty_folder(run_script, tmp_path):
    (tmp_path / "empty").mkdir()
    res = run_script(TRAIN, "--data-root", tmp_path / "empty")
    one_line_error(res, "cifar-10-batches-py", "train/<class>")


def _copy_sample(dst):
    shutil.copytree(paths.CIFAR10_SAMPLE, dst)
    return dst


def test_data_root_with_missing_class_folders(run_script, tmp_path):
    root = _copy_sample(tmp_path / "cifar")
    shutil.rmtree(root / "train" / "cat")
    shutil.rmtree(root / "train" / "ship")
    res = run_script(TRAIN, "--data-root", root)
    one_line_error(res, "missing class folder", "cat, ship")


@pytest.mark.parametrize("loader", ["fast", "classic"])
def test_data_root_with_non_image_files(run_script, tmp_path, loader):
    root = _copy_sample(tmp_path / "cifar")
    (root / "train" / "cat" / "notes.txt").write_text("not an image, and ignored: not an image extension")
    (root / "train" / ".DS_Store").write_bytes(b"\0\1\2")
    res = run_script(TRAIN, "--data-root", root, "--epochs", "1", "--loader", loader)
    assert res.returncode == 0, res  # files without image extensions are skipped
    assert "2500 train / 500 test" in res.stdout
    (root / "train" / "dog" / "broken.jpg").write_text("a text file named .jpg")
    res = run_script(TRAIN, "--data-root", root, "--epochs", "1", "--loader", loader)
    one_line_error(res, "broken.jpg")


def test_download_failure_falls_back_clearly(run_script):
    # no --offline: the real download code runs, against a host that can never resolve
    res = run_script(TRAIN, "--epochs", "1", "--limit", "100",
                     env={"CIFAR10_URL": "https://cifar.invalid/cifar-10-python.tar.gz"})
    assert res.returncode == 0, res
    warn = [line for line in res.stdout.splitlines() if line.startswith("!!")]
    assert len(warn) == 1 and "BUNDLED SAMPLE" in warn[0] and "download failed" in warn[0]
    assert "cifar-10-python.tar.gz" in warn[0]
    assert "100 train / 100 test" in res.stdout
