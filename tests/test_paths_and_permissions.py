"""Paths a learner really has: printed commands paste back as one argument; a folder the scripts cannot
write to (a read-only checkout, another user's folder, a file in its place) is one line, not a traceback."""

import os
import re
import shlex

from common.model import Tudui
from common.paths import shell_arg

import pytest
import torch

from helpers import cannot_override_permissions, one_line_error, read_events, run_forked, shell_split, windows_split

# a space, Chinese, a single quote; and what cmd would act on outside quotes (&, parentheses)
TRICKY = [
    "/home/小明/我的 课程/checkpoints",
    "/home/tom/it's mine/logs",
    "/srv/Tom & Jerry (1)/课程/tudui_1.pth",
    "D:\\我的 课程\\checkpoints\\tudui_1.pth",
    "C:\\Users\\O'Brien\\logs",
    "D:\\ends in a backslash\\",
]


def outside_double_quotes(line):
    return "".join(part for k, part in enumerate(line.split('"')) if k % 2 == 0)


@pytest.mark.parametrize("path", TRICKY)
def test_a_quoted_path_pastes_back_as_one_argument(path):
    posix = f"tensorboard --logdir {shell_arg(path, 'linux')} --port 6007"
    assert shlex.split(posix) == ["tensorboard", "--logdir", path, "--port", "6007"], posix
    windows = f"tensorboard --logdir {shell_arg(path, 'win32')} --port 6007"
    assert windows_split(windows) == ["tensorboard", "--logdir", path, "--port", "6007"], windows
    # cmd knows no single quotes and acts on & ( ) < > | ^ outside double quotes
    assert not re.search(r"['&()<>|^]", outside_double_quotes(windows)), windows
    # a plain path stays as it is, on both
    assert shell_arg("checkpoints/train_gpu/tudui_1.pth", "win32") == "checkpoints/train_gpu/tudui_1.pth"
    assert shell_arg("checkpoints/train_gpu/tudui_1.pth", "darwin") == "checkpoints/train_gpu/tudui_1.pth"


def test_the_printed_commands_paste_back_as_one_argument(run_script, tmp_path):
    """What the scripts print, read back as this machine's shell reads it (the Ctrl-C resume hint:
    test_interrupt_resume.py, which also runs the pasted command)."""
    mine = tmp_path / "我的 'run' 课程"
    # P8: where tensorboard finds the curves
    res = run_script("02_tensorboard/P8_Tensorboard.py", "--offline", "--logdir", mine)
    assert res.returncode == 0, res
    hint = re.search(r"^view them: (.+)$", res.stdout, re.M).group(1)
    assert shell_split(hint) == ["tensorboard", "--logdir", str(mine), "--port", "6007"], hint
    # --logdir DIR: the curves are in DIR, and the script says so
    assert f"event files in {mine}\n" in res.stdout, res
    assert sorted(read_events(mine).Tags()["scalars"]) == ["y=2x", "y=x", "y=x^2"]
    # predict.py: a newer checkpoint it passed over (trained on the sample), and how to use it
    ckpt = tmp_path / "checkpoints" / mine.name / "tudui_1.pth"
    ckpt.parent.mkdir(parents=True)
    torch.save({"arch": "tudui", "model": Tudui().state_dict(), "data": {"kind": "bundled sample"}}, ckpt)
    res = run_script("09_inference/predict.py")
    assert res.returncode == 0, res
    hint = re.search(r": pass (--checkpoint .+) to use it$", res.stdout, re.M).group(1)
    assert shell_split(hint) == ["--checkpoint", str(ckpt)], hint
    # a --checkpoint-dir that holds another run: how to continue that run
    line = one_line_error(
        run_script("08_train/train_gpu.py", "--offline", "--checkpoint-dir", ckpt.parent), "already holds another run"
    )
    hint = re.search(r"continue that run with (--resume .+), pick another folder", line).group(1)
    assert shell_split(hint) == ["--resume", str(ckpt.parent)], hint


# -- folders the scripts cannot write to ---------------------------------------------------------------


def _how_to_lock(tmp_path_factory):
    """How a test's run meets an unwritable folder here: (preexec_fn or None, why it cannot be done)."""
    if not hasattr(os, "geteuid"):
        return None, "Windows: chmod cannot make a folder unwritable"
    folder = tmp_path_factory.mktemp("locked")
    probe = folder.parent / "write_probe.py"
    probe.write_text("import sys\nopen(sys.argv[1], 'w')\n")
    folder.chmod(0o555)
    preexec = cannot_override_permissions if os.geteuid() == 0 else None
    try:  # the way the tests run the lessons (run_script: forked, else a fresh process)
        res = run_forked(probe, [folder / "x"], folder.parent, preexec_fn=preexec)
    finally:
        folder.chmod(0o755)
    if res.returncode == 0:
        return None, "this user can write into a read-only folder"
    if "PermissionError" not in res.stderr:  # the preexec_fn failed: no capabilities to drop (a container)
        return None, "running as root, and the child process cannot drop CAP_DAC_OVERRIDE"
    return preexec, None


@pytest.fixture(scope="module")
def lock(tmp_path_factory):
    return _how_to_lock(tmp_path_factory)


QUICK = ["--limit", "64", "--epochs", "1"]
# name: script, its flags, the folder under PYTORCH_LESSONS_HOME it cannot write, what the error must offer
# besides PYTORCH_LESSONS_HOME, and how that folder is broken: "locked" (no write permission), "file"
# (a file in its place)
WRITERS = {
    "model_save": ("07_save_load/model_save.py", [], "checkpoints", [], "locked file"),
    "train_gpu-checkpoints": (
        "08_train/train_gpu.py",
        ["--offline", *QUICK],
        "checkpoints",
        ["--checkpoint-dir DIR"],
        "locked file",
    ),
    "train_gpu-logs": ("08_train/train_gpu.py", ["--offline", *QUICK], "logs", ["--logdir DIR"], "file"),
    # a download needs a folder to go to: said before any network is tried
    "train_gpu-download": (
        "08_train/train_gpu.py",
        QUICK,
        "dataset",
        ["cannot download cifar-10-python.tar.gz", "--offline"],
        "locked file",
    ),
    "train_gpu-cache": ("08_train/train_gpu.py", ["--offline", *QUICK], "dataset", [], "file"),  # decoded images
    "P8_Tensorboard": ("02_tensorboard/P8_Tensorboard.py", ["--offline"], "logs", ["--logdir DIR"], "locked file"),
    "rename_dataset": ("01_dataset/rename_dataset.py", ["--offline"], "dataset", [], "file"),
}


@pytest.mark.parametrize(
    "script,flags,folder,offers,way",
    [pytest.param(*case[:4], way, id=f"{name}-{way}") for name, case in WRITERS.items() for way in case[4].split()],
)
def test_a_folder_that_cannot_be_written_is_one_line(run_script, lock, tmp_path, script, flags, folder, offers, way):
    target = tmp_path / folder
    needles = [str(target), "set PYTORCH_LESSONS_HOME to a folder you can write to", *offers]
    if way == "file":  # works for anyone: NotADirectoryError, or the check before it
        target.write_text("a file where the lessons keep a folder")
        res = run_script(script, *flags)
        one_line_error(res, "is a file", *needles)  # and the same run in Chinese
    else:
        preexec, why_not = lock
        if why_not:
            pytest.skip(why_not)
        target.mkdir()
        target.chmod(0o555)
        try:  # root: a run that obeys permissions; anyone else: the permissions themselves
            res = run_script(script, *flags, preexec_fn=preexec)
            one_line_error(res, "cannot write in", *needles)  # the Chinese run too, while the folder is locked
        finally:
            target.chmod(0o755)
    assert "epoch 1/" not in res.stdout  # it stopped before training
