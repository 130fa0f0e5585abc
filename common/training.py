"""Run bookkeeping shared by the training scripts: folders, resume, Ctrl-C.

The training loop itself stays in each script (it is the lesson). This only
decides where a run writes, restores a run from ``--resume``, and tells the
learner how to continue after an interruption.
"""
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import paths
from .checkpoint import load_checkpoint, load_weights, newest_checkpoint
from .cli import LessonError


@dataclass
class Run:
    logdir: Path
    checkpoint_dir: Path
    start_epoch: int = 0          # epochs already finished (0 for a fresh run)
    total_train_step: int = 0     # the course's counters, continued on resume
    total_test_step: int = 0
    checkpoint: dict = field(default=None, repr=False)
    resumed_from: Path = None     # the checkpoint file this run continues


def prepare_run(args, name):
    """Folders for a fresh run (logs/<name>/<time>, checkpoints/<name>/<time>) or a resumed one."""
    if args.resume:
        return _resume(args, name)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    logdir = Path(args.logdir) if args.logdir else paths.LOGS_DIR / name / stamp
    ckpt_dir = Path(args.checkpoint_dir) if args.checkpoint_dir else paths.CHECKPOINT_DIR / name / stamp
    return Run(logdir, ckpt_dir)


def _resume(args, name):
    where = args.resume
    if where == "latest":
        base = Path(args.checkpoint_dir) if args.checkpoint_dir else paths.CHECKPOINT_DIR / name
        found = newest_checkpoint(base)
        if found is None:
            raise LessonError(f"--resume: no checkpoint found under {base}")
    else:
        found = Path(where)
        if found.is_dir():
            found = newest_checkpoint(found)
            if found is None:
                raise LessonError(f"--resume {where}: no .pth file in that folder")
    ckpt = load_checkpoint(found)
    if "optimizer" not in ckpt or "epoch" not in ckpt:
        raise LessonError(f"--resume {found}: this is a model file, not a training checkpoint "
                          "(it has no optimizer state / epoch)")
    print(f"resuming from {found} (epoch {ckpt['epoch']} finished)", flush=True)
    logdir = Path(args.logdir or ckpt.get("logdir") or paths.LOGS_DIR / name / "resumed")
    return Run(logdir, Path(args.checkpoint_dir) if args.checkpoint_dir else found.parent,
               ckpt["epoch"], ckpt.get("total_train_step", 0), ckpt.get("total_test_step", 0), ckpt, found)


def restore(run, model, optimizer, scheduler=None):
    """Load model, optimizer, scheduler and RNG state from the checkpoint being resumed (if any)."""
    if run.checkpoint is None:
        return
    load_weights(model, run.checkpoint["model"], "--resume checkpoint")
    try:
        optimizer.load_state_dict(run.checkpoint["optimizer"])
    except (ValueError, KeyError) as exc:
        raise LessonError(f"--resume: optimizer state does not fit this run ({exc})") from None
    if scheduler is not None and run.checkpoint.get("scheduler"):
        scheduler.load_state_dict(run.checkpoint["scheduler"])
    if "rng_state" in run.checkpoint:
        torch.set_rng_state(run.checkpoint["rng_state"])


def resume_command(checkpoint_path, epochs):
    """The exact command line that continues this run from ``checkpoint_path``."""
    argv, rest = sys.argv[1:], []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--resume":  # drop an earlier --resume and its optional value
            i += 2 if i + 1 < len(argv) and not argv[i + 1].startswith("--") else 1
            continue
        if not a.startswith("--resume="):
            rest.append(a)
        i += 1
    if not any(a == "--epochs" or a.startswith("--epochs=") for a in rest):
        rest += ["--epochs", str(epochs)]
    return shlex.join(["python", sys.argv[0], *rest, "--resume", str(checkpoint_path)])
