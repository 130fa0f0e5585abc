"""Ctrl-C keeps finished work and says how to resume; --resume continues a run with its own settings."""
import re
import shlex
import signal
import subprocess
import sys
import time

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import REPO, _run, last_line, lesson_env, one_line_error

TRAIN = "08_train/train_gpu.py"


def start(tmp_path, *args, script=TRAIN):
    return subprocess.Popen([sys.executable, str(REPO / script), *map(str, args)], cwd=tmp_path,
                            env=lesson_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


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


def test_ctrl_c_keeps_checkpoints_and_resume_continues(tmp_path):
    ck, tb = tmp_path / "ck", tmp_path / "tb"
    # so many epochs that the run cannot end on its own before the signal arrives
    proc = start(tmp_path, "--offline", "--limit", "200", "--batch-size", "8", "--epochs", "100000",
                 "--checkpoint-dir", ck, "--logdir", tb)
    wait_for(proc, "saved tudui_2.pth")
    _, err = interrupt(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    cmd = re.search(r"resume with: (.+)", err).group(1)
    saved = sorted(ck.glob("*.pth"), key=lambda p: int(p.stem.split("_")[1]))
    assert len(saved) >= 2 and not list(ck.glob("*.tmp"))
    last = torch.load(saved[-1], weights_only=True)
    assert cmd == f"python {REPO / TRAIN} --resume {saved[-1]}"  # the run's settings come from the file

    # resume to a smaller total, so the test stays quick: epochs done + 2
    done = last["epoch"]
    argv = shlex.split(cmd)[2:] + ["--epochs", str(done + 2)]
    res = _run(TRAIN, argv, tmp_path)
    assert res.returncode == 0, res
    assert res.lines[0].startswith(f"resuming {saved[-1]}: epoch {done} of {done + 2} finished, test accuracy 0.")
    assert "continuing with that run's settings (" in res.lines[0] and "batch_size 8" in res.lines[0]
    epochs_run = re.findall(r"^epoch (\d+)/", res.stdout, re.M)
    assert epochs_run == [str(done + 1), str(done + 2)]  # nothing redone, nothing skipped
    final = torch.load(ck / f"tudui_{done + 2}.pth", weights_only=True)
    assert final["epoch"] == done + 2
    assert final["total_train_step"] == (done + 2) * 25  # 200 images / batch 8: the run's own settings
    assert final["total_test_step"] == done + 2
    assert re.match(r"final test accuracy: 0\.\d{4}$", last_line(res))

    # TensorBoard steps continue, with no duplicate or missing points
    acc = EventAccumulator(str(tb))
    acc.Reload()
    assert [e.step for e in acc.Scalars("test_accuracy")] == list(range(done + 2))


def test_ctrl_c_before_the_first_epoch_leaves_nothing_behind(tmp_path):
    # batch 1 over 2,500 images: the first epoch takes many seconds; the signal comes at its start
    proc = start(tmp_path, "--offline", "--batch-size", "1", script="08_train/train.py")
    wait_for(proc, "tensorboard: ")
    _, err = interrupt(proc)
    assert proc.returncode == 130
    assert len(err.strip().splitlines()) == 1 and err.strip().startswith("interrupted"), err
    for base in (tmp_path / "logs", tmp_path / "checkpoints"):  # no run folder, no file
        assert not [p for p in base.rglob("*") if p.is_file() or p.parent.name == "train"], list(base.rglob("*"))


def test_ctrl_c_while_torch_loads_is_one_line(tmp_path):
    proc = subprocess.Popen([sys.executable, str(REPO / TRAIN), "--offline"], cwd=tmp_path,
                            env=lesson_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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


def test_resume_uses_the_runs_own_settings_and_refuses_contradictions(tmp_path, launch):
    first = _run(TRAIN, ["--offline", "--amp", "--limit", "96", "--batch-size", "32", "--epochs", "1"], tmp_path)
    assert first.returncode == 0, first
    ckpt = next((tmp_path / "checkpoints" / "train_gpu").rglob("tudui_1.pth"))
    # a plain --resume of a finished run says so, and how to extend it
    one_line_error(launch(TRAIN, "--offline", "--resume"), "that run is finished (1 of 1 epochs",
                   "add --epochs N with N > 1")
    # a flag that contradicts the run is refused, naming both values
    one_line_error(launch(TRAIN, "--offline", "--resume", "--epochs", "2", "--batch-size", "64"),
                   "that run used --batch-size 32, you gave --batch-size 64", "leave --batch-size out")
    # without flags, the run continues as it was: amp, limit, batch size from the checkpoint
    res = launch(TRAIN, "--offline", "--resume", "--epochs", "2")
    assert res.returncode == 0, res
    assert "amp True" in res.lines[0] and "limit 96" in res.lines[0] and "batch_size 32" in res.lines[0]
    ck2 = torch.load(ckpt.with_name("tudui_2.pth"), weights_only=True)
    assert ck2["settings"] == dict(torch.load(ckpt, weights_only=True)["settings"], epochs=2)
    assert ck2["total_train_step"] == 2 * 3  # 96 images / batch 32
    # resuming an older checkpoint of a run that went further would overwrite its later epochs
    one_line_error(launch(TRAIN, "--offline", "--resume", ckpt, "--epochs", "3"),
                   "that run already went further (tudui_2.pth)", "--checkpoint-dir NEW")
    # ... unless it branches off into a folder of its own
    res = launch(TRAIN, "--offline", "--resume", ckpt, "--epochs", "3", "--checkpoint-dir", tmp_path / "branch")
    assert res.returncode == 0, res
    assert sorted(p.name for p in (tmp_path / "branch").iterdir()) == ["tudui_2.pth", "tudui_3.pth"]


def test_resume_without_checkpoint_is_one_line_error(launch):
    one_line_error(launch(TRAIN, "--offline", "--resume"), "--resume: no checkpoint found")


def test_resume_bad_checkpoints_are_one_line_errors(launch, tmp_path):
    from common.model import Tudui, TuduiBN
    one_line_error(launch(TRAIN, "--offline", "--resume", tmp_path / "gone.pth"), "does not exist")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00garbage" * 100)
    one_line_error(launch(TRAIN, "--offline", "--resume", junk), "not a PyTorch checkpoint")
    # a model file (method 2 state_dict) has no optimizer/epoch: it can't be resumed
    weights = tmp_path / "weights.pth"
    torch.save(Tudui().state_dict(), weights)
    one_line_error(launch(TRAIN, "--offline", "--resume", weights), "not a training checkpoint")
    # a checkpoint of the other recipe's model: say which keys don't fit
    other = tmp_path / "tudui_bn_3.pth"
    torch.save({"arch": "tudui_bn", "model": TuduiBN().state_dict(), "optimizer": {}, "epoch": 3}, other)
    one_line_error(launch(TRAIN, "--offline", "--resume", other, "--epochs", "5"),
                   "holds a tudui_bn model", "this run trains tudui")
    # same arch name, different shapes: name the mismatching key
    sd = Tudui().state_dict()
    sd["model.7.weight"] = torch.zeros(64, 512)
    wrong = tmp_path / "tudui_2.pth"
    torch.save({"arch": "tudui", "model": sd, "optimizer": {}, "epoch": 2}, wrong)
    one_line_error(launch(TRAIN, "--offline", "--resume", wrong),
                   "does not fit Tudui", "model.7.weight (64, 512) vs (64, 1024)")
