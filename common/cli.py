"""Command-line flags shared by the lessons.

Every script works with no arguments; flags only override the course's
values. ``parser(__doc__)`` takes a script's docstring: its first paragraph
(one sentence saying what the lesson teaches) becomes the ``--help``
description and its ``Run:``/``Look:`` lines the examples shown at the end.
"""

import argparse
import textwrap
from pathlib import Path

from . import paths
from .beyond_course.lang import _


def _number(kind, check, wanted):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not check(value):  # `not (value > 0)` also rejects nan
            raise argparse.ArgumentTypeError(_("must be {wanted}, got {text!r}").format(wanted=wanted, text=text))
        return value

    parse.__name__ = wanted  # argparse names the type in some messages
    return parse


positive_int = _number(int, lambda v: v > 0, _("a whole number above 0"))
non_negative_int = _number(int, lambda v: v >= 0, _("a whole number, 0 or more"))
positive_float = _number(float, lambda v: v > 0, _("a number above 0"))


def _resume_target(value, flag):
    if value != "latest" and not Path(value).is_dir():
        paths.existing_file(value, flag, "checkpoint")


# Every path flag of every script is checked the moment the flags are read, before any work:
# a missing file, a file where a folder belongs, a folder that cannot be made -> one line.
PATH_CHECKS = {
    "logdir": paths.check_dir,
    "checkpoint_dir": paths.check_dir,
    "hub_dir": paths.check_dir,
    "data_root": paths.existing_dir,
    "checkpoint": lambda v, flag: paths.existing_file(v, flag, "checkpoint"),
    "image": lambda v, flag: paths.existing_file(v, flag, "image"),
    "picture": lambda v, flag: Path(v) if Path(v).is_dir() else paths.existing_file(v, None, "picture"),
    "resume": _resume_target,
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not the whole usage block
        self.exit(2, _("{prog}: error: {message} (see --help)").format(prog=self.prog, message=message) + "\n")

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        for action in self._actions:
            check, value = PATH_CHECKS.get(action.dest), getattr(parsed, action.dest, None)
            if check and value:
                check(value, action.option_strings[-1] if action.option_strings else action.dest)
        return parsed


def _help_parts(doc):
    """(first paragraph as one line, the example lines at the end of the docstring), in English: each is
    a message of the catalogue (tests/test_lang.py checks that every script's are there)."""
    paragraphs = [p.strip() for p in doc.strip().split("\n\n")]
    summary = " ".join(paragraphs[0].split())
    examples = paragraphs[-1] if len(paragraphs) > 1 and paragraphs[-1].split()[0].endswith(":") else None
    return summary, examples


def parser(doc, data="cifar10", device=True, logdir=True, seed=False, batches=None):
    """An ArgumentParser with the flags most lessons share, described by the script's docstring.

    ``data``: "cifar10" adds --data-root, --limit and --offline ("pictures": the same, and
    --data-root may also be your own picture folder); "ants_bees" or "weights" only --offline;
    None: the lesson downloads nothing.
    """
    summary, examples = _help_parts(doc)
    p = _Parser(
        description=textwrap.fill(_(summary), 88),
        epilog=examples and _(examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if data in ("cifar10", "pictures"):
        where = _(
            "CIFAR-10 location: DIR/cifar-10-batches-py (torchvision) or DIR/train|test/<class>/* (ImageFolder). "
            "Default: dataset/ (downloaded if missing, else the bundled sample)."
        )
        own = _("CIFAR-10 only: for your own pictures use 08_train/train_gpu.py --data-root")
        if data == "pictures":
            own = _(
                "Or your own pictures: DIR/<class>/ (split for you) or DIR/train/<class>/ + "
                "DIR/val/<class>/ (or test/), any class names, each picture resized to 32x32"
            )
        p.add_argument("--data-root", metavar="DIR", help=where + " " + own)
        tiny = _("use only N images of each split (a quick, tiny run)")
        p.add_argument("--limit", type=positive_int, metavar="N", help=tiny)
    if data == "pictures":
        add_val_fraction(p)
    if data:
        weights = _("don't try to download: use what is already on disk, else random weights")
        sample = _("don't try to download: use what is already on disk, else the bundled sample")
        p.add_argument("--offline", action="store_true", help=weights if data == "weights" else sample)
    if device:
        p.add_argument("--device", help=_("cpu, cuda, cuda:1, mps, xpu ... (default: the accelerator if there is one)"))
    if logdir:
        p.add_argument("--logdir", metavar="DIR", help=_("TensorBoard folder (default: under logs/)"))
    if seed:
        p.add_argument("--seed", type=int, default=0, help=_("random seed (default 0): same seed, same run"))
    if batches:
        how_many = _("how many batches of 64 to use (default {batches}; 0 = all, as the course does)")
        p.add_argument("--batches", type=non_negative_int, default=batches, help=how_many.format(batches=batches))
    return p


def add_val_fraction(p):
    share = _(
        "pictures in DIR/<class>/ (no train/ and val/): the share of each class kept "
        "aside for val (default 0.2; the same split every run)"
    )
    p.add_argument("--val-fraction", type=positive_float, default=0.2, metavar="F", help=share)
