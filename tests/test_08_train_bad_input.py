"""Bad data and bad arguments for the training scripts: one actionable line and exit 2."""

import shutil

from common import data, paths

import pytest

from helpers import ZH, one_line_error

TRAIN = "08_train/train_gpu.py"


def test_unknown_device_says_how_to_fall_back(run_script):
    one_line_error(run_script(TRAIN, "--offline", "--device", "cuda"), "--device cuda", "--device cpu")
    one_line_error(run_script(TRAIN, "--offline", "--device", "tpu9"), "not a device name")


def _copy_sample(dst):
    shutil.copytree(paths.CIFAR10_SAMPLE, dst)
    return dst


def test_data_root_whose_splits_have_other_classes(run_script, tmp_path):
    # not CIFAR-10's ten folders, so your own pictures: train/ and test/ must name the same classes
    root = _copy_sample(tmp_path / "cifar")
    shutil.rmtree(root / "train" / "cat")
    shutil.rmtree(root / "train" / "ship")
    one_line_error(
        run_script(TRAIN, "--data-root", root),
        "train/ and test/ must have the same class folders",
        "only in test/: cat, ship",
    )
    assert not (tmp_path / "logs").exists() and not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize("loader", ["fast", "classic"])
def test_data_root_with_non_image_files(run_script, tmp_path, loader):
    root = _copy_sample(tmp_path / "cifar")
    (root / "train" / "cat" / "notes.txt").write_text("not an image, and ignored: not an image extension")
    (root / "train" / ".DS_Store").write_bytes(b"\0\1\2")
    res = run_script(TRAIN, "--data-root", root, "--epochs", "1", "--limit", "200", "--loader", loader)
    assert res.returncode == 0, res  # files without image extensions are skipped
    assert f"data: CIFAR-10 pictures from {root}" in res.stdout
    (root / "train" / "dog" / "broken.jpg").write_text("a text file named .jpg")
    res = run_script(TRAIN, "--data-root", root, "--epochs", "1", "--loader", loader)
    # in Chinese too; the classic loader's line (~3 s to reach) is test_cli's for --image notes.txt in Chinese
    one_line_error(res, "broken.jpg", zh_env=ZH if loader == "fast" else None)


def test_download_failure_falls_back_in_one_short_line(run_script):
    # no --offline: the real download code runs, against a host that can never resolve
    res = run_script(
        TRAIN, "--epochs", "1", "--limit", "100", env={"CIFAR10_URL": "https://cifar.invalid/cifar-10-python.tar.gz"}
    )
    assert res.returncode == 0, res
    warn = [line for line in res.stdout.splitlines() if line.startswith("could not download")]
    assert len(warn) == 1 and len(warn[0]) < 250, warn  # long for the README section's two languages
    assert warn[0].startswith("could not download CIFAR-10 (no network) -> using the bundled sample")
    assert data.dataset_files.see_data_help() in warn[0] and "--offline skips this attempt" in warn[0]
    assert "训练数据集的长度为: 100, 测试数据集的长度为: 100" in res.stdout
    # --offline: no attempt, no warning, one plain line
    res = run_script(TRAIN, "--offline", "--epochs", "1", "--limit", "100")
    assert "could not download" not in res.stdout
    assert "CIFAR-10: not on disk (--offline) -> using the bundled sample" in res.stdout


def test_explicit_folder_of_another_run_is_refused(run_script, tmp_path):
    ck = tmp_path / "mine"
    first = run_script(TRAIN, "--offline", "--limit", "64", "--epochs", "1", "--checkpoint-dir", ck)
    assert first.returncode == 0, first
    before = (ck / "tudui_1.pth").read_bytes()
    one_line_error(
        run_script(TRAIN, "--offline", "--limit", "64", "--epochs", "1", "--checkpoint-dir", ck),
        f"--checkpoint-dir {ck} already holds another run (tudui_1.pth)",
        f"--resume {paths.shell_arg(ck)}",
        "--overwrite",
    )
    assert (ck / "tudui_1.pth").read_bytes() == before  # untouched
    logs = tmp_path / "tb"
    assert run_script(TRAIN, "--offline", "--limit", "64", "--epochs", "1", "--logdir", logs).returncode == 0
    one_line_error(
        run_script(TRAIN, "--offline", "--limit", "64", "--epochs", "1", "--logdir", logs),
        "already holds another run (events.out.tfevents",
    )
    # asked for: the old run's files there are replaced
    res = run_script(
        TRAIN, "--offline", "--limit", "64", "--epochs", "1", "--checkpoint-dir", ck, "--seed", "1", "--overwrite"
    )
    assert res.returncode == 0, res
    assert (ck / "tudui_1.pth").read_bytes() != before
