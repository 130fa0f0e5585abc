"""Paths a learner really has: printed commands paste back as one argument."""
import re
import shlex

import pytest
import torch

from common.model import Tudui
from common.paths import shell_arg

from conftest import one_line_error

# a space, Chinese, a single quote; and what cmd would act on outside quotes (&, parentheses)
TRICKY = ["/home/小明/我的 课程/checkpoints", "/home/tom/it's mine/logs", "/srv/Tom & Jerry (1)/课程/tudui_1.pth",
          "D:\\我的 课程\\checkpoints\\tudui_1.pth", "C:\\Users\\O'Brien\\logs", "D:\\ends in a backslash\\"]


def windows_split(line):
    """A command line as a Windows program gets it from cmd or PowerShell (python.exe and tensorboard.exe
    use the Microsoft C runtime's rules): spaces separate arguments outside double quotes; the quotes
    group and are dropped; 2n backslashes before a quote are n backslashes, 2n+1 escape the quote."""
    args, arg, quoted, started, i = [], "", False, False, 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            n = len(line) - i - len(line[i:].lstrip("\\"))
            before_quote = line[i + n:i + n + 1] == '"'
            arg += "\\" * (n // 2 if before_quote else n) + ('"' if before_quote and n % 2 else "")
            i += n + (1 if before_quote and n % 2 else 0)
            started = True
            continue
        if c == '"':
            quoted, started = not quoted, True
        elif c in " \t" and not quoted:
            if started:
                args.append(arg)
            arg, started = "", False
        else:
            arg, started = arg + c, True
        i += 1
    return args + [arg] if started else args


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


def test_the_printed_commands_paste_back_as_one_argument(launch, tmp_path):
    """What the scripts print, read back as this machine's shell reads it (the Ctrl-C resume hint:
    test_interrupt_resume.py, which also runs the pasted command)."""
    mine = tmp_path / "我的 'run' 课程"
    # P8: where tensorboard finds the curves
    res = launch("02_tensorboard/P8_Tensorboard.py", "--offline", "--logdir", mine)
    assert res.returncode == 0, res
    hint = re.search(r"^view them: (.+)$", res.stdout, re.M).group(1)
    assert shlex.split(hint) == ["tensorboard", "--logdir", str(mine), "--port", "6007"], hint
    # predict.py: a newer checkpoint it passed over (trained on the sample), and how to use it
    ckpt = tmp_path / "checkpoints" / mine.name / "tudui_1.pth"
    ckpt.parent.mkdir(parents=True)
    torch.save({"arch": "tudui", "model": Tudui().state_dict(), "data": {"kind": "bundled sample"}}, ckpt)
    res = launch("09_inference/predict.py")
    assert res.returncode == 0, res
    hint = re.search(r": pass (--checkpoint .+) to use it$", res.stdout, re.M).group(1)
    assert shlex.split(hint) == ["--checkpoint", str(ckpt)], hint
    # a --checkpoint-dir that holds another run: how to continue that run
    line = one_line_error(launch("08_train/train_gpu.py", "--offline", "--checkpoint-dir", ckpt.parent),
                          "already holds another run")
    hint = re.search(r"continue that run with (--resume .+), pick another folder", line).group(1)
    assert shlex.split(hint) == ["--resume", str(ckpt.parent)], hint
