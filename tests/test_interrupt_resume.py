"""Issue: Ctrl-C keeps finished work and says how to resume; --resume continues exactly."""
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import REPO, _run, last_line, one_line_error


def test_smoke_ctrl_c_keeps_checkpoints_and_resume_continues(tmp_path):
    env = dict(os.environ, PYTORCH_LESSONS_HOME=str(tmp_path), PYTHONUNBUFFERED="1", TQDM_DISABLE="1")
    ck, tb = tmp_path / "ck", tmp_path / "tb"
    args = ["--offline", "--limit", "200", "--batch-size", "8", "--epochs", "40",
            "--checkpoint-dir", str(ck), "--logdir", str(tb)]
    proc = subprocess.Popen([sys.executable, str(REPO / "08_train/train_gpu.py"), *args], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stdout:  # wait until two epochs are saved, then press "Ctrl-C"
        seen.append(line)
        if "saved tudui_2.pth" in line:
            break
    proc.send_signal(signal.SIGINT)
    t = time.perf_counter()
    out, err = proc.communicate(timeout=60)
    assert time.perf_counter() - t < 10, "Ctrl-C must stop training within seconds"
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    cmd = re.search(r"resume with: (.+)", err).group(1)
    saved = sorted(ck.glob("*.pth"), key=lambda p: int(p.stem.split("_")[1]))
    assert len(saved) >= 2 and not list(ck.glob("*.tmp"))
    last = torch.load(saved[-1], weights_only=True)
    assert str(saved[-1]) in cmd and "--epochs 40" in cmd

    # resume to a smaller total, so the test stays quick: epochs done + 2
    done = last["epoch"]
    argv = shlex.split(cmd)[2:]  # drop "python <script>"
    i = argv.index("--epochs")
    argv[i + 1] = str(done + 2)
    res = _run("08_train/train_gpu.py", argv, tmp_path)
    assert res.returncode == 0, res
    assert f"resuming from {saved[-1]} (epoch {done} finished)" in res.stdout
    epochs_run = re.findall(r"^epoch (\d+)/", res.stdout, re.M)
    assert epochs_run == [str(done + 1), str(done + 2)]  # nothing redone, nothing skipped
    final = torch.load(ck / f"tudui_{done + 2}.pth", weights_only=True)
    assert final["epoch"] == done + 2
    assert final["total_train_step"] == (done + 2) * 25  # 200 images / batch 8
    assert final["total_test_step"] == done + 2
    assert re.match(r"final test accuracy: 0\.\d{4}$", last_line(res))

    # TensorBoard steps continue, with no duplicate or missing points
    acc = EventAccumulator(str(tb))
    acc.Reload()
    assert [e.step for e in acc.Scalars("test_accuracy")] == list(range(done + 2))


def test_resume_without_checkpoint_isone_line_error(run_script):
    res = run_script("08_train/train_gpu.py", "--offline", "--resume")
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error: --resume: no checkpoint found")
    assert "Traceback" not in res.stderr


def test_resume_bad_checkpoints_areone_line_error(run_script, tmp_path):
    from common.model import Tudui, TuduiBN
    one_line_error(run_script("08_train/train_gpu.py", "--offline", "--resume", tmp_path / "gone.pth"),
              "does not exist")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00garbage" * 100)
    one_line_error(run_script("08_train/train_gpu.py", "--offline", "--resume", junk), "not a PyTorch checkpoint")
    # a model file (method 2 state_dict) has no optimizer/epoch: it can't be resumed
    weights = tmp_path / "weights.pth"
    torch.save(Tudui().state_dict(), weights)
    one_line_error(run_script("08_train/train_gpu.py", "--offline", "--resume", weights), "not a training checkpoint")
    # a checkpoint of the other recipe's model: say which keys don't fit
    other = tmp_path / "tudui_bn_3.pth"
    torch.save({"arch": "tudui_bn", "model": TuduiBN().state_dict(), "optimizer": {}, "epoch": 3}, other)
    one_line_error(run_script("08_train/train_gpu.py", "--offline", "--resume", other),
              "holds a tudui_bn model", "this run trains tudui")
    # same arch name, different shapes: name the mismatching key
    sd = Tudui().state_dict()
    sd["model.7.weight"] = torch.zeros(64, 512)
    wrong = tmp_path / "tudui_2.pth"
    torch.save({"arch": "tudui", "model": sd, "optimizer": {}, "epoch": 2}, wrong)
    one_line_error(run_script("08_train/train_gpu.py", "--offline", "--resume", wrong),
              "does not fit Tudui", "model.7.weight (64, 512) vs (64, 1024)")
