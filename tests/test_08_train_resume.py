"""Ctrl-C keeps finished work and says how to resume; --resume continues a run with its own settings."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from helpers import (
    REPO,
    assert_same_state,
    last_line,
    lesson_env,
    max_change,
    one_line_error,
    read_events,
    run_forked,
    shell_split,
    sigint_as_in_a_terminal,
)

TRAIN = "08_train/train_gpu.py"
# Ctrl-C as a terminal sends it: SIGINT to a child started with preexec_fn (helpers.sigint_as_in_a_terminal)
CTRL_C = pytest.mark.skipif(
    os.name != "posix",
    reason="presses Ctrl-C as a POSIX SIGINT to a child started with "
    "preexec_fn; Windows has neither (its Ctrl-C is a console event)",
)
SMALL = ["--offline", "--limit", "64", "--batch-size", "16"]  # 4 steps an epoch


def start(tmp_path, *args, script=TRAIN):
    return subprocess.Popen(
        [sys.executable, str(REPO / script), *map(str, args)],
        cwd=tmp_path,
        env=lesson_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_as_in_a_terminal,
    )


def wait_for(proc, text):
    for line in proc.stdout:
        if text in line:
            return line
    raise AssertionError(f"the run ended without printing {text!r}: {proc.communicate()}")


def interrupt(proc):
    """Press "Ctrl-C": the run must stop within seconds."""
    proc.send_signal(signal.SIGINT)
    t = time.perf_counter()
    out, err = proc.communicate(timeout=60)
    assert time.perf_counter() - t < 15, "Ctrl-C must stop training within seconds"
    return out, err


@CTRL_C
def test_ctrl_c_keeps_checkpoints_and_resume_continues(tmp_path):
    # folder names a pasted command must quote: a space, Chinese, a single quote
    ck, tb = tmp_path / "我的 'ck'", tmp_path / "tb 日志"
    # so many epochs that the run cannot end on its own before the signal arrives
    proc = start(
        tmp_path,
        "--offline",
        "--limit",
        "96",
        "--batch-size",
        "8",
        "--epochs",
        "100000",
        "--checkpoint-dir",
        ck,
        "--logdir",
        tb,
    )
    wait_for(proc, "saved tudui_2.pth")
    _, err = interrupt(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    cmd = re.search(r"resume with: (.+)", err).group(1)
    saved = sorted(ck.glob("*.pth"), key=lambda p: int(p.stem.split("_")[1]))
    assert len(saved) >= 2 and not list(ck.glob("*.tmp"))
    last = torch.load(saved[-1], weights_only=True)
    # read as a shell reads it (a repository in a folder like "我的 课程" too); the settings come from the file
    assert shell_split(cmd) == ["python", str(REPO / TRAIN), "--resume", str(saved[-1])]

    # resume to a smaller total, so the test stays quick: epochs done + 2; the pasted command's arguments
    done = last["epoch"]
    argv = shell_split(cmd)[2:] + ["--epochs", str(done + 2)]
    res = run_forked(TRAIN, argv, tmp_path)
    assert res.returncode == 0, res
    assert res.lines[0].startswith(f"resuming {saved[-1]}: epoch {done} of {done + 2} finished, test accuracy 0.")
    assert "continuing with that run's settings (" in res.lines[0] and "batch_size 8" in res.lines[0]
    epochs_run = re.findall(r"^epoch (\d+)/", res.stdout, re.M)
    assert epochs_run == [str(done + 1), str(done + 2)]  # nothing redone, nothing skipped
    final = torch.load(ck / f"tudui_{done + 2}.pth", weights_only=True)
    assert final["epoch"] == done + 2
    assert final["total_train_step"] == (done + 2) * 12  # 96 images / batch 8: the run's own settings
    assert final["total_test_step"] == done + 2
    assert re.match(r"final test accuracy: 0\.\d{4}$", last_line(res))

    # TensorBoard steps continue, with no duplicate or missing points
    acc = read_events(tb)
    assert [e.step for e in acc.Scalars("test_accuracy")] == list(range(done + 2))


@CTRL_C
def test_ctrl_c_before_the_first_epoch_leaves_nothing_behind(tmp_path):
    # batch 1 over 2,500 images: the first epoch takes many seconds; the signal comes at its start
    proc = start(tmp_path, "--offline", "--batch-size", "1", script="08_train/train.py")
    wait_for(proc, "tensorboard: ")
    _, err = interrupt(proc)
    assert proc.returncode == 130
    assert len(err.strip().splitlines()) == 1 and err.strip().startswith("interrupted"), err
    for base in (tmp_path / "logs", tmp_path / "checkpoints"):  # no run folder, no file
        assert not [p for p in base.rglob("*") if p.is_file() or p.parent.name == "train"], list(base.rglob("*"))


@CTRL_C
def test_ctrl_c_while_torch_loads_is_one_line(tmp_path):
    proc = start(tmp_path, "--offline")
    maps = f"/proc/{proc.pid}/maps"
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until torch's library is being loaded, i.e. mid-import
        try:
            with open(maps) as f:
                if "libtorch" in f.read():
                    break
        except FileNotFoundError:
            break
        time.sleep(0.01)
    _, err = interrupt(proc)
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted" and "Traceback" not in err
    assert not (tmp_path / "logs").exists() and not (tmp_path / "checkpoints").exists()


def test_resume_uses_the_runs_own_settings_and_refuses_contradictions(tmp_path, run_script):
    first = run_script(TRAIN, "--offline", "--amp=bfloat16", "--limit", "96", "--batch-size", "32", "--epochs", "1")
    assert first.returncode == 0, first
    ckpt = next((tmp_path / "checkpoints" / "train_gpu").rglob("tudui_1.pth"))
    # a plain --resume of a finished run says so, and how to extend it
    one_line_error(
        run_script(TRAIN, "--offline", "--resume"), "that run is finished (1 of 1 epochs", "add --epochs N with N > 1"
    )
    # a flag that contradicts the run is refused, naming both values
    one_line_error(
        run_script(TRAIN, "--offline", "--resume", "--epochs", "2", "--batch-size", "64"),
        "that run used --batch-size 32, you gave --batch-size 64",
        "leave --batch-size out",
    )
    # without flags, the run continues as it was: amp, limit, batch size from the checkpoint
    res = run_script(TRAIN, "--offline", "--resume", "--epochs", "2")
    assert res.returncode == 0, res
    assert "amp bfloat16" in res.lines[0] and "limit 96" in res.lines[0] and "batch_size 32" in res.lines[0]
    # the line names the settings the run had (not --epochs, which may change; none left unset), from the checkpoint
    shown = re.fullmatch(r"resuming .*; continuing with that run's settings \((.*)\)", res.lines[0]).group(1)
    assert "epochs" not in shown and "None" not in shown, res.lines[0]
    assert any(line.startswith("amp: bfloat16 (") for line in res.lines), res  # and autocast uses it
    ck2 = torch.load(ckpt.with_name("tudui_2.pth"), weights_only=True)
    assert ck2["settings"] == dict(torch.load(ckpt, weights_only=True)["settings"], epochs=2)
    assert ck2["total_train_step"] == 2 * 3  # 96 images / batch 32
    # a run on the bundled sample given a --data-root: a contradiction too (that run had none)
    one_line_error(
        run_script(TRAIN, "--offline", "--resume", ckpt, "--epochs", "3", "--data-root", tmp_path),
        "that run used --data-root (none), you gave --data-root",
    )
    # resuming an older checkpoint of a run that went further would overwrite its later epochs
    shutil.copy(ckpt.with_name("tudui_2.pth"), ckpt.with_name("tudui_3.pth"))  # as if it had gone to epoch 3
    one_line_error(
        run_script(TRAIN, "--offline", "--resume", ckpt, "--epochs", "4"),
        "that run already went further (tudui_3.pth)",  # the newest of them
        "--checkpoint-dir NEW",
    )
    # ... unless it branches off into a folder of its own
    res = run_script(TRAIN, "--offline", "--resume", ckpt, "--epochs", "3", "--checkpoint-dir", tmp_path / "branch")
    assert res.returncode == 0, res
    assert sorted(p.name for p in (tmp_path / "branch").iterdir()) == ["tudui_2.pth", "tudui_3.pth"]


def test_resume_without_checkpoint_is_one_line_error(run_script):
    one_line_error(run_script(TRAIN, "--offline", "--resume"), "--resume: no checkpoint found")


def test_resume_bad_checkpoints_are_one_line_errors(run_script, tmp_path):
    from common.beyond_course.models import TuduiBN
    from common.model import Tudui

    one_line_error(run_script(TRAIN, "--offline", "--resume", tmp_path / "gone.pth"), "does not exist")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00garbage" * 100)
    one_line_error(run_script(TRAIN, "--offline", "--resume", junk), "not a PyTorch checkpoint")
    # a model file (method 2 state_dict) has no optimizer/epoch: it can't be resumed
    weights = tmp_path / "weights.pth"
    torch.save(Tudui().state_dict(), weights)
    one_line_error(run_script(TRAIN, "--offline", "--resume", weights), "not a training checkpoint")
    # nor does a dict of weights and an epoch without the optimizer's state
    torch.save({"model": Tudui().state_dict(), "epoch": 2}, weights)
    one_line_error(run_script(TRAIN, "--offline", "--resume", weights), "not a training checkpoint")
    # a checkpoint of the other recipe's model: say which keys don't fit
    other = tmp_path / "tudui_bn_3.pth"
    torch.save({"arch": "tudui_bn", "model": TuduiBN().state_dict(), "optimizer": {}, "epoch": 3}, other)
    one_line_error(
        run_script(TRAIN, "--offline", "--resume", other, "--epochs", "5"),
        "holds a tudui_bn model",
        "this run trains tudui",
    )
    # same arch name, different shapes: name the mismatching key
    sd = Tudui().state_dict()
    sd["model.7.weight"] = torch.zeros(64, 512)
    wrong = tmp_path / "tudui_2.pth"
    torch.save({"arch": "tudui", "model": sd, "optimizer": {}, "epoch": 2}, wrong)
    one_line_error(
        run_script(TRAIN, "--offline", "--resume", wrong),
        "does not fit Tudui",
        "model.7.weight (64, 512) vs (64, 1024)",
    )


def final_state(folder, name):
    ck = torch.load(folder / name, weights_only=True)
    del ck["logdir"]  # the one thing that may differ: where each run's curves went
    return ck


@pytest.mark.parametrize("script", ["train.py", "train_gpu_1.py", "train_gpu.py"])
def test_resume_ends_exactly_where_a_run_never_stopped_ends(run_script, tmp_path, script):
    """2 epochs, then --resume --epochs 4, against 4 epochs straight: the same weights, optimizer
    state, counters, losses, accuracy and random state, bit for bit. A resume that started from
    fresh weights (or the wrong batches) would end elsewhere."""
    path = f"08_train/{script}"
    straight = run_script(path, *SMALL, "--epochs", "4", "--checkpoint-dir", tmp_path / "straight")
    assert straight.returncode == 0, straight
    first = run_script(path, *SMALL, "--epochs", "2", "--checkpoint-dir", tmp_path / "stopped")
    assert first.returncode == 0, first
    then = run_script(path, "--offline", "--resume", tmp_path / "stopped", "--epochs", "4")
    assert then.returncode == 0, then
    assert re.findall(r"^epoch (\d+)/4: ", then.stdout, re.M) == ["3", "4"]
    want = final_state(tmp_path / "straight", "tudui_4.pth")
    assert_same_state(final_state(tmp_path / "stopped", "tudui_4.pth"), want)
    # not a vacuous equality: epochs 3 and 4 moved the weights
    assert max_change(want["model"], final_state(tmp_path / "stopped", "tudui_2.pth")["model"]) > 1e-4
    # a resume from epoch 2 of the straight run writes into that run's curves: TensorBoard shows its
    # epochs 3 and 4 once (the resume's), not also the old ones it went on from
    branch = run_script(
        path, "--offline", "--resume", tmp_path / "straight" / "tudui_2.pth", "--checkpoint-dir", tmp_path / "b"
    )
    assert branch.returncode == 0, branch
    logdir = torch.load(tmp_path / "straight" / "tudui_2.pth", weights_only=True)["logdir"]
    steps = [e.step for e in read_events(logdir).Scalars("train_loss")]
    assert steps == sorted(set(steps)) and steps[-1] == 16, steps  # 4 epochs of 4 steps, each step once


def test_resume_restores_the_improved_recipes_momentum_and_schedule(run_script, tmp_path):
    """--recipe improved keeps state beyond the weights: SGD momentum buffers, the one-cycle
    schedule's position, BatchNorm statistics, the augmentation's random state. A run branched off
    its epoch-2 checkpoint (its schedule cannot be stretched to other --epochs) must end as the run
    itself did."""
    straight = run_script(TRAIN, "--recipe", "improved", *SMALL, "--epochs", "4", "--checkpoint-dir", tmp_path / "a")
    assert straight.returncode == 0, straight
    branch = run_script(
        TRAIN, "--offline", "--resume", tmp_path / "a" / "tudui_bn_2.pth", "--checkpoint-dir", tmp_path / "b"
    )
    assert branch.returncode == 0, branch
    assert re.findall(r"^epoch (\d+)/4: ", branch.stdout, re.M) == ["3", "4"]
    want = final_state(tmp_path / "a", "tudui_bn_4.pth")
    assert want["arch"] == "tudui_bn" and want["settings"]["recipe"] == "improved" and want["settings"]["augment"]
    state = want["optimizer"]["state"]  # one momentum buffer per parameter, all in use
    assert len(state) == len(want["optimizer"]["param_groups"][0]["params"]) > 0
    assert all(s["momentum_buffer"].abs().sum() > 0 for s in state.values())
    assert want["scheduler"]["last_epoch"] == 4 * 4  # the schedule advanced once a step
    assert want["model"]["model.1.running_mean"].abs().sum() > 0  # BatchNorm statistics
    assert_same_state(final_state(tmp_path / "b", "tudui_bn_4.pth"), want)
    assert max_change(want["model"], final_state(tmp_path / "a", "tudui_bn_2.pth")["model"]) > 1e-4
