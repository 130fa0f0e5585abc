"""Run bookkeeping shared by the training scripts: folders, resume, Ctrl-C.

The training loop itself stays in each script (it is the lesson). This only
decides where a run writes, restores a run from ``--resume``, opens its
SummaryWriter, writes the checkpoint dict at the end of an epoch, and tells the
learner how to continue after an interruption.
"""
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.tensorboard import SummaryWriter

from . import paths
from .checkpoint import guess_arch, load_checkpoint, load_weights, newest_checkpoint, save_checkpoint
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

    @property
    def resumed_accuracy(self):
        """Test accuracy recorded in the checkpoint being resumed (None for a fresh run)."""
        return self.checkpoint.get("test_accuracy") if self.checkpoint else None


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
    have, want = run.checkpoint.get("arch"), guess_arch(model.state_dict())
    if have and want and have != want:
        raise LessonError(f"--resume {run.resumed_from}: it holds a {have} model, but this run trains "
                          f"{want} (train_gpu.py: --recipe improved trains tudui_bn, course trains tudui)")
    load_weights(model, run.checkpoint["model"], f"--resume {run.resumed_from}")
    try:
        optimizer.load_state_dict(run.checkpoint["optimizer"])
    except (ValueError, KeyError) as exc:
        raise LessonError(f"--resume: optimizer state does not fit this run ({exc})") from None
    if scheduler is not None and run.checkpoint.get("scheduler"):
        scheduler.load_state_dict(run.checkpoint["scheduler"])
    if "rng_state" in run.checkpoint:
        torch.set_rng_state(run.checkpoint["rng_state"])


def start_run(args, name, model, optimizer, scheduler=None):
    """The bookkeeping before the first epoch: ``prepare_run`` + ``restore``, then the
    run's SummaryWriter, and one line saying where logs and checkpoints go.

    Returns ``(run, writer)``.
    """
    run = prepare_run(args, name)
    restore(run, model, optimizer, scheduler)
    # purge_step: on resume, drop points a crashed run wrote after its last checkpoint
    writer = SummaryWriter(str(run.logdir), purge_step=run.total_train_step if run.checkpoint else None)
    print(f"tensorboard: {run.logdir}   checkpoints: {run.checkpoint_dir}")
    return run, writer


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


def save_epoch(run, arch, model, optimizer, epoch, total_train_step, total_test_step, test_accuracy,
               **extra):
    """Write ``<checkpoint_dir>/<arch>_<epoch>.pth`` and return its path.

    A dict of tensors and numbers (plus ``extra`` entries, e.g. ``scheduler``),
    so ``torch.load(path, weights_only=True)`` reads it back safely; ``arch``
    tells predict.py which network to rebuild, the rest is what ``--resume`` needs.
    """
    path = run.checkpoint_dir / f"{arch}_{epoch}.pth"
    save_checkpoint({
        "arch": arch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "epoch": epoch, "total_train_step": total_train_step, "total_test_step": total_test_step,
        "test_accuracy": test_accuracy, "logdir": str(run.logdir), "rng_state": torch.get_rng_state(),
        **extra,
    }, path)
    return path


def stop_after_interrupt(run, last_saved, epochs, writer=None):
    """Ctrl-C: close the writer, say what was kept and the command that resumes, exit with 130."""
    if writer is not None:
        writer.close()
    if last_saved is None and run.checkpoint is None:
        print("\ninterrupted before the first epoch finished; nothing to resume", file=sys.stderr)
    else:
        print(f"\ninterrupted: finished epochs are saved in {run.checkpoint_dir}\n"
              f"resume with: {resume_command(last_saved or run.resumed_from, epochs)}", file=sys.stderr)
    sys.exit(130)
