"""Runs started at the same moment never share a folder or overwrite each other's files."""

import subprocess
import sys

from common.beyond_course.checkpoint import model_from_checkpoint, read_checkpoint

import torch

from helpers import REPO, lesson_env

TRAIN = "08_train/train_gpu.py"
ARGS = ["--offline", "--limit", "128", "--batch-size", "32", "--epochs", "2"]


def start_two(home):
    env = lesson_env(home)
    procs = [
        subprocess.Popen(
            [sys.executable, str(REPO / TRAIN), *ARGS],
            cwd=home,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    return [p.communicate(timeout=300) + (p.returncode,) for p in procs]


def test_two_runs_started_together_get_folders_of_their_own(tmp_path):
    # The folder name has a one-second clock in it; two runs started together usually land in
    # the same second. Retry (in a fresh home) until they do, so the clash really happens.
    for attempt in range(4):
        home = tmp_path / f"home{attempt}"
        home.mkdir()
        results = start_two(home)
        for _, err, code in results:
            assert code == 0, err
        runs = sorted(p.name for p in (home / "checkpoints" / "train_gpu").iterdir())
        if runs[0] + "-2" == runs[1]:
            break
    else:
        raise AssertionError(f"the two runs never started in the same second: {runs}")
    # two folders, each with its own complete set of checkpoints, each loadable
    assert len(runs) == 2
    assert sorted(p.name for p in (home / "logs" / "train_gpu").iterdir()) == runs
    for run in runs:
        folder = home / "checkpoints" / "train_gpu" / run
        assert sorted(p.name for p in folder.iterdir()) == ["tudui_1.pth", "tudui_2.pth"]
        ck = read_checkpoint(folder / "tudui_2.pth")
        model_from_checkpoint(ck)
        assert ck["logdir"] == str(home / "logs" / "train_gpu" / run)
        events = list((home / "logs" / "train_gpu" / run).glob("events.out.tfevents.*"))
        assert len(events) == 1  # TensorBoard shows two runs, not two files mixed in one
    # each run printed its own folder
    printed = sorted(out.split("checkpoints: ")[1].split("\n")[0].rsplit("/", 1)[1] for out, _, _ in results)
    assert printed == runs
    # both decoded the same images at the same time: the shared cache is whole, no temp file left
    caches = list((home / "dataset" / "cache").iterdir())
    assert [c.suffix for c in caches] == [".pt"] * len(caches) and len(caches) == 2  # train and test splits
    for c in caches:
        assert torch.load(c, weights_only=True).shape[1:] == (3, 32, 32)
