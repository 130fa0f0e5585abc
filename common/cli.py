"""Command-line flags shared by the lessons, and one-line errors.

Every script works with no arguments; flags only override the course's
defaults. Expected problems (missing data, a bad image, a wrong checkpoint)
raise ``LessonError`` and ``run`` turns that into one line on stderr and exit
code 2 instead of a traceback.
"""
import argparse
import sys

import torch


class LessonError(Exception):
    """An expected problem, reported to the learner as one line."""


def run(main):
    """Call ``main()``; print LessonError as ``error: ...`` and exit 2; Ctrl-C exits 130 quietly."""
    try:
        main()
    except LessonError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not the whole usage block
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parser(description, data=True, device=True, logdir=True):
    """An ArgumentParser with the flags most lessons share."""
    p = _Parser(description=description)
    if data:
        p.add_argument("--data-root", metavar="DIR", default=None,
                       help="CIFAR-10 location: DIR/cifar-10-batches-py (torchvision) or "
                            "DIR/train|test/<class>/* (ImageFolder). Default: dataset/ "
                            "(downloaded if missing, else the bundled sample)")
        p.add_argument("--offline", action="store_true",
                       help="never touch the network: use data already on disk or the bundled sample")
        p.add_argument("--limit", type=positive_int, metavar="N", default=None,
                       help="use only N samples of each split (a quick, tiny run)")
    if device:
        p.add_argument("--device", default=None,
                       help="cpu, cuda, cuda:1, mps, xpu ... (default: the accelerator if there is one)")
    if logdir:
        p.add_argument("--logdir", metavar="DIR", default=None,
                       help="TensorBoard folder (default: under logs/)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return p


def add_train_args(p, epochs=10, batch_size=64, lr=1e-2):
    """Flags of the training scripts; defaults are the course's."""
    p.add_argument("--epochs", type=positive_int, default=epochs, help=f"default {epochs or 'per recipe'}")
    p.add_argument("--batch-size", type=positive_int, default=batch_size, help=f"default {batch_size}")
    p.add_argument("--lr", type=positive_float, default=lr, help=f"learning rate, default {lr or 'per recipe'}")
    p.add_argument("--checkpoint-dir", metavar="DIR", default=None,
                   help="where to write a checkpoint every epoch (default: under checkpoints/)")
    p.add_argument("--resume", nargs="?", const="latest", default=None, metavar="CHECKPOINT",
                   help="continue from a checkpoint file or folder (no value: the newest one)")
    return p


def seed_everything(seed):
    torch.manual_seed(seed)
