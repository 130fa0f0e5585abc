"""Folders, anchored at the repository root, and one-line errors for path flags.

The course writes to ``./dataset`` and ``./logs`` relative to wherever Python was started, so running a script
from its own folder makes a second copy of everything. Here every path hangs off the repository root, so
``python 08_train/train_gpu.py`` and ``cd 08_train && python train_gpu.py`` give the same result.
``PYTORCH_LESSONS_HOME=/some/dir`` puts ``dataset/``, ``logs/`` and ``checkpoints/`` somewhere else.
"""

import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

from .beyond_course.lang import _
from .errors import LessonError

REPO_ROOT = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("PYTORCH_LESSONS_HOME", REPO_ROOT)).resolve()

DATASET_DIR = HOME / "dataset"  # the course's ./dataset (CIFAR-10 downloads here)
LOGS_DIR = HOME / "logs"  # tensorboard --logdir logs
CHECKPOINT_DIR = HOME / "checkpoints"  # model files written by the training scripts
SAVE_LOAD_DIR = CHECKPOINT_DIR / "07_save_load"  # lesson 07's method-1/2 demo files (untrained, not runs)

SAMPLES_DIR = REPO_ROOT / "01_dataset" / "samples"  # small real samples shipped with the repo
CIFAR10_SAMPLE = SAMPLES_DIR / "cifar10"  # ImageFolder layout: train|test/<class>/*.jpg
HYMENOPTERA_SAMPLE = SAMPLES_DIR / "hymenoptera_data"  # ants/bees, same layout as the official zip


def shell_arg(text, platform=None):
    """``text`` (a path such as ``D:\\我的 课程``) as one argument of a command the learner pastes into a shell:
    quoted only when needed, in double quotes on Windows (cmd knows no single quotes), shlex.quote elsewhere."""
    text = str(text)
    if (platform or sys.platform) != "win32":
        return shlex.quote(text)
    if re.fullmatch(r"[\w.:=\\/-]+", text):  # letters (any language), digits, path and flag characters
        return text
    # a backslash just before the closing quote would escape that quote: the trailing ones go doubled
    return '"' + text + "\\" * (len(text) - len(text.rstrip("\\"))) + '"'


def lesson_logdir(script_file, override=None):
    """TensorBoard folder for a lesson script, created: ``logs/<lesson folder>/<script name>`` (so one
    ``tensorboard --logdir logs`` shows every lesson as its own run)."""
    if override:
        return ensure_dir(override, "--logdir")
    script = Path(script_file).resolve()
    return ensure_dir(LOGS_DIR / script.parent.name / script.stem)


def _shown(path):
    path = Path(path)
    return str(path) if path.is_absolute() else f"{path} ({path.absolute()})"


def instead(path):
    """What to do when ``path``, a folder the lessons chose (no flag named it), cannot be written:
    a read-only or synced checkout, another user's folder."""
    path = Path(path).absolute()
    home = _("set PYTORCH_LESSONS_HOME to a folder you can write to (dataset/, logs/ and checkpoints/ then go there)")
    if path.is_relative_to(LOGS_DIR):
        return _("pass --logdir DIR, or {move_home}").format(move_home=home)
    if path.is_relative_to(CHECKPOINT_DIR) and not path.is_relative_to(SAVE_LOAD_DIR):
        return _("pass --checkpoint-dir DIR, or {move_home}").format(move_home=home)
    return home if path.is_relative_to(HOME) else _("choose a folder you can write to")


def _named(path, flag, fix):
    """How a one-line error names folder ``path``, and what it says to do (see check_dir)."""
    named = f"{flag} {_shown(path)}" if flag else _shown(path)
    return named, fix or (_("choose another place") if flag else instead(path))


def check_dir(path, flag=None, fix=None):
    """Fail now, in one line, if ``ensure_dir(path)`` would fail later; creates nothing. ``flag``: the flag that
    named ``path`` (None: a folder the lessons chose); ``fix``: what to do (default: see ``_named``)."""
    path = Path(path)
    named, fix = _named(path, flag, fix)
    if path.exists() and not path.is_dir():
        give = _("{named} is a file, not a folder; give a folder (it is created if missing)")
        move = _("{named} is a file, not a folder; move that file away, or {fix}")
        raise LessonError((give if flag else move).format(named=named, fix=fix))
    existing = next(p for p in [path, *path.absolute().parents] if p.exists())
    if not existing.is_dir():
        msg = _("{named}: {existing} is a file, so no folder can be made there; {fix}")
        raise LessonError(msg.format(named=named, existing=existing, fix=fix))
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".write-test-")  # can we really write here?
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        here = _("{named}: cannot write in this folder ({why}); {fix}")
        there = _("{named}: cannot write in {where} ({why}); {fix}")
        msg = here if existing.absolute() == path.absolute() else there
        why = exc.strerror or type(exc).__name__
        raise LessonError(msg.format(named=named, where=existing, why=why, fix=fix)) from None
    return path


def ensure_dir(path, flag=None, fix=None):
    """Create folder ``path`` (and its parents) if needed, checked as by ``check_dir``."""
    path = check_dir(path, flag, fix)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # made impossible since check_dir looked (another program, a full disk ...)
        named, fix = _named(path, flag, fix)
        msg = _("{named}: cannot create this folder ({why}); {fix}")
        raise LessonError(msg.format(named=named, why=exc.strerror or type(exc).__name__, fix=fix)) from None
    return path


def unwritable(exc):
    """An OSError from writing ``exc.filename`` (no permission, a read-only disk, a file where a folder
    belongs) as one line: which folder, and what to do (errors.run prints it)."""
    path = Path(exc.filename)
    try:
        check_dir(path.parent)  # the folder the file or new folder goes into: says what is wrong with it
    except LessonError as found:
        return str(found)
    return f"{_shown(path)}: {exc.strerror or type(exc).__name__}"


def existing_file(path, flag=None, what="file"):
    """``path`` as a Path if it is an existing file, else a one-line error saying where we looked."""
    path = Path(path)
    named = _("{flag}: ").format(flag=flag) if flag else ""
    what = {"file": _("file"), "checkpoint": _("checkpoint"), "image": _("image"), "picture": _("picture")}[what]
    if not path.exists():
        raise LessonError(_("{named}{what} {path} does not exist").format(named=named, what=what, path=_shown(path)))
    if path.is_dir():
        msg = _("{named}{path} is a folder; give the path of the {what} file itself")
        raise LessonError(msg.format(named=named, path=_shown(path), what=what))
    return path


def existing_dir(path, flag):
    """``path`` as a Path if it is an existing folder, else a one-line error."""
    path = Path(path)
    if not path.exists():
        raise LessonError(_("{flag} {path} does not exist").format(flag=flag, path=_shown(path)))
    if not path.is_dir():
        raise LessonError(_("{flag} {path} is a file; give a folder").format(flag=flag, path=_shown(path)))
    return path
