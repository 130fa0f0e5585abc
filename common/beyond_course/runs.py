"""Run bookkeeping for the training scripts, beyond the course: settings, folders, --resume, Ctrl-C.

The training loop stays in each script (it is the lesson), and so do the course's counters, its
``SummaryWriter(...)``, ``torch.save({...})`` and, for --resume, ``load_state_dict(...)`` calls.
The scripts call these small functions, in this order:

* ``load_for_resume(resume, ...)``: with --resume, the checkpoint to continue (a file, a folder's
  newest, or this script's newest run), checked: a training checkpoint, of this model, not finished;
  its run's settings win over the flags left out, and a flag that contradicts them is one line;
* ``settings(defaults, given, resumed)``: the run's settings (the flags, else the resumed run's,
  else the course's values);
* ``note_data(train_set, settings, resumed)``: what the run trains on, for its checkpoints (on the
  bundled sample: what accuracy to expect, and why);
* ``loading(resumed)``: around the ``load_state_dict`` calls, a checkpoint that does not fit is one line;
* ``make_folders(script, settings, resumed, ...)``: ``logs/<script>/<time>[_<what differs>]`` and the
  same under ``checkpoints/``, made exclusively so two runs started in the same second never share
  one; an explicit folder that holds another run is refused unless ``--overwrite``; with --resume,
  the run's own folders (or a branch: ``--checkpoint-dir``);
* ``keep_finished_epochs(writer, checkpoint_dir)``: around the epochs, Ctrl-C keeps the finished
  epochs and prints the command that resumes; a run that saved nothing leaves no folder behind.
"""

import atexit
import os
import re
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

from torchvision import datasets

from .. import cli, paths
from ..data import unwrap
from ..errors import LessonError, first_line
from . import recipe
from .checkpoint import describe, read_checkpoint
from .lang import _, ngettext

# short names for the settings that go into a new run's folder name when they differ from the course
LABELS = {"recipe": "{}", "lr": "lr{}", "batch_size": "b{}", "amp": "{}", "limit": "limit{}", "loader": "{}"}
# settings that older checkpoints recorded in other words: --amp was a switch for bfloat16 autocast
OLD_VALUES = {"amp": {True: "bfloat16", False: "float32"}}
FULL_TRAIN_SIZE = 50_000
_made = []  # the folders this run created (removed again if it saves no checkpoint)


def add_train_args(p, shown):
    """The training scripts' flags (returns ``p``). Left out, a setting takes the course's value (``shown``
    in --help: epochs, batch_size, lr) or, with --resume, the value the resumed run used: so no defaults."""
    p.add_argument(
        "--epochs",
        type=cli.positive_int,
        help=_("how many epochs in all (default {epochs})").format(epochs=shown["epochs"]),
    )
    p.add_argument(
        "--batch-size",
        type=cli.positive_int,
        help=_("images per step (default {batch_size})").format(batch_size=shown["batch_size"]),
    )
    p.add_argument("--lr", type=cli.positive_float, help=_("learning rate (default {lr})").format(lr=shown["lr"]))
    p.add_argument("--seed", type=int, default=None, help=_("random seed (default 0): same seed, same run"))
    p.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        default=None,
        help=_("where to write a checkpoint every epoch (default: a new folder under checkpoints/)"),
    )
    p.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        metavar="CHECKPOINT",
        help=_(
            "continue a run from its checkpoint file or folder, with that run's settings "
            "(no value: this script's newest run)"
        ),
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help=_(
            "start afresh in a --logdir/--checkpoint-dir that holds another run "
            "(its checkpoints and curves there are deleted)"
        ),
    )
    return p


# the flags that are a run's settings (recorded in its checkpoints, taken back by --resume)
SETTINGS = ("recipe", "model", "epochs", "batch_size", "lr", "seed", "augment", "amp", "data_root", "limit")


def given(args, *settings):
    """The run's settings as typed (None: left out): the usual ones and ``settings``."""
    return {k: getattr(args, k) for k in (*SETTINGS, *settings) if hasattr(args, k)}


def run_flags(args, *settings):
    """The settings given, and where the run goes (--resume, --logdir, --checkpoint-dir, --overwrite)."""
    return dict(
        given=given(args, *settings),
        resume=getattr(args, "resume", None),
        logdir=args.logdir,
        checkpoint_dir=args.checkpoint_dir,
        overwrite=args.overwrite,
    )


# -- --resume ----------------------------------------------------------------------------------------


def epoch_of(path):
    """The epoch number in a checkpoint's file name (``tudui_7.pth`` -> 7), or -1."""
    m = re.search(r"_(\d+)\.pth$", Path(path).name)
    return int(m.group(1)) if m else -1


def newest_checkpoint(folder):
    """The newest ``*.pth`` under ``folder`` (recursively): last written, highest epoch; or None."""
    folder = Path(folder)
    found = [p for p in folder.rglob("*.pth") if p.is_file()] if folder.is_dir() else []
    return max(found, key=lambda p: (p.stat().st_mtime, epoch_of(p))) if found else None


def _find(resume, script, checkpoint_dir):
    if resume == "latest":
        base = Path(checkpoint_dir) if checkpoint_dir else paths.CHECKPOINT_DIR / script
        found = newest_checkpoint(base)
        if found is None:
            raise LessonError(
                _("--resume: no checkpoint found under {base} (give the file: --resume PATH)").format(base=base)
            )
        return found
    if Path(resume).is_dir():
        found = newest_checkpoint(resume)
        if found is None:
            raise LessonError(_("--resume {path}: no .pth file in that folder").format(path=resume))
        return found
    return paths.existing_file(resume, "--resume", "checkpoint")


def load_for_resume(resume, script, defaults, given, checkpoint_dir=None):
    """--resume (None: a new run, returns None): the checkpoint to continue, with ``"path"`` (where it
    was read) and ``"settings"`` (that run's, with the flags ``given`` that may change: --epochs)."""
    if resume is None:
        return None
    found = _find(resume, script, checkpoint_dir)
    ck = read_checkpoint(found, flag="--resume")
    if "optimizer" not in ck or "epoch" not in ck:
        raise LessonError(
            _(
                "--resume {path}: this is a model file, not a training checkpoint (it has no optimizer "
                "state / epoch); 09_inference/predict.py can use it"
            ).format(path=found)
        )
    recorded = {k: OLD_VALUES[k].get(v, v) if k in OLD_VALUES else v for k, v in (ck.get("settings") or {}).items()}
    settings = {}
    for key in dict.fromkeys([*defaults, *given]):
        value, had = given.get(key), recorded.get(key)
        if value == "auto":
            value = None  # --amp lets the device choose: the run chose when it started (also after a restart)
        if key in recorded and value is not None and key != "epochs" and not _same(value, had):
            flag = "--" + key.replace("_", "-")
            raise LessonError(
                _(
                    "--resume {path}: that run used {flag} {had}, you gave {flag} {value}; leave {flag} "
                    "out to continue the run as it was, or start a new run without --resume"
                ).format(path=found, flag=flag, had=_show(had), value=_show(value))
            )
        given_now = value is not None and (key == "epochs" or key not in recorded)  # else the run's: same value
        settings[key] = value if given_now else recorded.get(key, defaults.get(key))
    arch = settings.get("model")
    if ck.get("arch") and arch and ck["arch"] != arch:
        raise LessonError(
            _("--resume {path}: it holds a {had} model, but this run trains {arch}").format(
                path=found, had=ck["arch"], arch=arch
            )
        )
    if ck["epoch"] >= settings["epochs"]:
        raise LessonError(
            _(
                "--resume {path}: that run is finished ({done} of {epochs} epochs{acc}); to train it "
                "further add --epochs N with N > {done}"
            ).format(path=found, done=ck["epoch"], epochs=settings["epochs"], acc=_acc(ck))
        )
    shown = ", ".join(f"{k} {v}" for k, v in settings.items() if k != "epochs" and v is not None)
    print(
        (
            _("resuming {path}: epoch {done} of {epochs} finished{acc}; continuing with that run's settings ({shown})")
            if recorded
            else _(
                "resuming {path}: epoch {done} of {epochs} finished{acc}; continuing with that run's "
                "settings ({shown}) -- this checkpoint does not record them: using the flags"
            )
        ).format(path=found, done=ck["epoch"], epochs=settings["epochs"], acc=_acc(ck), shown=shown),
        flush=True,
    )
    return {**ck, "path": found, "settings": settings}


def settings(defaults, given, resumed):
    """The run's settings: the flags ``given`` (None: left out), else the resumed run's, else ``defaults``."""
    if resumed:
        return SimpleNamespace(**resumed["settings"])
    return SimpleNamespace(**{k: defaults.get(k) if given.get(k) is None else given[k] for k in {**defaults, **given}})


@contextmanager
def loading(resumed, source=None):
    """Around ``load_state_dict(resumed[...])`` calls: a checkpoint that does not fit is one line."""
    source = source or "--resume {}".format(resumed["path"])
    try:
        yield
    except KeyError as exc:
        raise LessonError(_("{source}: the checkpoint holds no {key}").format(source=source, key=exc)) from None
    except (RuntimeError, ValueError) as exc:
        raise LessonError(f"{source}{_why_not_fit(exc, resumed['model'])}") from None


def _why_not_fit(exc, state_dict):
    """PyTorch's load_state_dict / optimizer error, shortened to its first problem."""
    text = re.sub(r"torch\.Size\(\[([\d, ]*)\]\)", r"(\1)", str(exc))
    m = re.match(r"Error\(s\) in loading state_dict for (\w+):\s*(.+)", text, re.S)
    if not m:  # the optimizer's ValueError: another number of parameters or groups
        return _(": the optimizer state does not fit this run ({problem})").format(problem=first_line(exc))
    problem = m.group(2).strip().splitlines()[0].strip().rstrip(".")
    size = re.match(
        r"size mismatch for (\S+): copying a param with shape (\(.*?\)) from checkpoint, "
        r"the shape in current model is (\(.*?\))",
        problem,
    )
    if size:
        problem = _("shape mismatch {name} {saved} vs {model} (checkpoint vs model)").format(
            name=size[1], saved=size[2], model=size[3]
        )
    else:  # Missing key(s) in state_dict: "a", "b", ... -> the first two
        problem = re.sub(r'^(.*?: "[^"]*", "[^"]*"),.*', r"\1 ...", problem)
    return _(" does not fit {model}: {problem} -- it holds {what}").format(
        model=m[1], problem=problem, what=describe(state_dict)
    )


# -- data ----------------------------------------------------------------------------------------------


def is_bundled_sample(dataset):
    base, _indices = unwrap(dataset)
    return isinstance(base, datasets.ImageFolder) and Path(base.root).parent == paths.CIFAR10_SAMPLE


def trained_on(train_set):
    """What a model trained on ``train_set`` saw, as recorded in its checkpoints."""
    base, indices = unwrap(train_set)
    if hasattr(base, "folder"):  # your own pictures (pictures.py): the folder you named
        return {"kind": "pictures", "images": len(train_set), "root": os.path.abspath(base.folder)}
    if is_bundled_sample(train_set):
        kind = "bundled sample"
    elif indices is None and len(base) >= FULL_TRAIN_SIZE:
        kind = "full"
    else:
        kind = "subset"
    return {"kind": kind, "images": len(train_set)}


def note_data(train_set, settings, resumed=None):
    """What the run trains on, for its checkpoints (``trained_on``); --resume on other data is refused.
    On the bundled sample, one line says what accuracy to expect, and why."""
    seen = trained_on(train_set)
    had = (resumed or {}).get("data")
    same = had and had.keys() == seen.keys() and all(_same(had[k], seen[k]) for k in had)  # (a folder: any spelling)
    if had and not same:  # e.g. trained offline on the sample, and now CIFAR-10 is there
        raise LessonError(
            _(
                "--resume {path}: that run trained on {had}, this one would train on {seen}; start a new run instead"
            ).format(path=resumed["path"], had=_data(had), seen=_data(seen))
        )
    if is_bundled_sample(train_set):
        name = getattr(settings, "recipe", "course")  # train.py has no --recipe: the course's
        expect, end, full = recipe.expect_on_sample(name)
        measured = recipe.defaults(name)  # the recipe's own settings, also when --resume brought the recipe
        run = {key: getattr(settings, key) for key in recipe.MEASURED_WITH if hasattr(settings, key)}
        if unwrap(train_set)[1] is None:
            run["limit"] = None  # a --limit of the sample's size or more takes all of it
        differs = [_flag(key, value) for key, value in run.items() if not _same(value, measured.get(key))]
        if not differs:
            said = _("expect {expect}; the full set gives {full}").format(expect=expect, full=full)
        else:
            said = _(
                "this run differs from the measured ones ({flags}), so there is no range to expect: with the "
                "default settings the whole sample gives {end}, the full set {full}"
            ).format(flags=", ".join(differs), end=end, full=full)
        print(
            _(
                "note: training on {n:,} images of the bundled sample ({share:.2g}% of CIFAR-10's 50,000) -- {said}"
            ).format(n=len(train_set), share=100 * len(train_set) / 50_000, said=said),
            flush=True,
        )
    return seen


# -- folders -------------------------------------------------------------------------------------------


def _holds_a_run(folder):
    """Files another run wrote into ``folder`` (checkpoints, TensorBoard events), if any."""
    folder = Path(folder)
    return (
        sorted(p.name for p in folder.iterdir() if p.suffix == ".pth" or p.name.startswith("events.out.tfevents."))
        if folder.is_dir()
        else []
    )


def _make(folder, flag=None, fix=None):
    """``paths.ensure_dir``, remembering the topmost folder it created (for _forget)."""
    made = [p for p in [Path(folder), *Path(folder).absolute().parents] if not p.exists()]
    folder = paths.ensure_dir(folder, flag, fix)
    _made.extend(made[-1:])
    return folder


def _claim(folder, flag, overwrite):
    """An explicit folder for a new run (or a branch): refused if it holds another run, unless --overwrite."""
    taken = _holds_a_run(folder)
    if taken and not overwrite:
        shown = ", ".join(taken[:2]) + (" ..." if len(taken) > 2 else "")
        raise LessonError(
            _(
                "{flag} {folder} already holds another run ({shown}): continue that run with --resume "
                "{arg}, pick another folder, or add --overwrite to replace it"
            ).format(flag=flag, folder=folder, shown=shown, arg=paths.shell_arg(folder))
        )
    folder = _make(folder, flag)
    for name in taken:  # --overwrite: the learner asked to start afresh here
        (folder / name).unlink()
    return folder


def _fresh(script, label, logdir, checkpoint_dir):
    """logs/<script>/<label> and checkpoints/<script>/<label> (those not given), made with an exclusive
    mkdir: a run started in the same second takes <label>-2."""
    for n in range(1, 1000):
        stem, mine = (label if n == 1 else f"{label}-{n}"), []
        try:
            for base, given in ((paths.CHECKPOINT_DIR, checkpoint_dir), (paths.LOGS_DIR, logdir)):
                if not given:
                    paths.ensure_dir(base / script)  # (not removed again: a run beside this one may use it)
                    (base / script / stem).mkdir()  # exclusive: fails if another run made it first
                    mine.append(base / script / stem)
            _made.extend(mine)
            return stem
        except FileExistsError:
            for folder in mine:
                folder.rmdir()
    raise LessonError(
        _("could not find a free run folder name under {folder}").format(folder=paths.CHECKPOINT_DIR / script)
    )


def make_folders(script, settings, resumed=None, logdir=None, checkpoint_dir=None, overwrite=False, defaults=None):
    """This run's TensorBoard and checkpoint folders, made now and printed: a new run's under logs/ and
    checkpoints/ (``logdir``, ``checkpoint_dir``: the flags); with --resume, the resumed run's own
    (``checkpoint_dir``: a branch of it). ``defaults``: what a new run's folder name is compared with."""
    try:
        if resumed is None:
            defaults = defaults or recipe.defaults(getattr(settings, "recipe", None))
            label = "_".join(
                [
                    time.strftime("%Y%m%d-%H%M%S"),
                    *(
                        fmt.format(getattr(settings, key))
                        for key, fmt in LABELS.items()
                        if getattr(settings, key, None) not in (None, False, defaults.get(key))
                    ),
                ]
            )
            stem = _fresh(script, label, logdir, checkpoint_dir)
            checkpoint_dir = (
                _claim(checkpoint_dir, "--checkpoint-dir", overwrite)
                if checkpoint_dir
                else paths.CHECKPOINT_DIR / script / stem
            )
            if not logdir:
                logdir = paths.LOGS_DIR / script / stem
            elif Path(logdir).resolve() != checkpoint_dir.resolve():  # (one folder for both: claimed above)
                logdir = _claim(logdir, "--logdir", overwrite)
        else:
            logdir = (
                _make(logdir, "--logdir")
                if logdir
                else _make(  # the run's own curves
                    resumed.get("logdir") or paths.LOGS_DIR / script / "resumed",
                    fix=_("pass --logdir DIR to write the curves elsewhere"),
                )
            )
            checkpoint_dir = _continue_in(resumed, checkpoint_dir, overwrite)
    except BaseException:
        _forget(None)
        raise
    # a run that saved nothing leaves nothing, also when it ends outside keep_finished_epochs (an error);
    # os._exit skips atexit, so train_ddp.py only uses it after keep_finished_epochs cleaned up
    atexit.register(_forget, checkpoint_dir)
    print(
        _("tensorboard: {logdir}   checkpoints: {checkpoint_dir}").format(logdir=logdir, checkpoint_dir=checkpoint_dir),
        flush=True,
    )
    return Path(logdir), Path(checkpoint_dir)


def _continue_in(resumed, checkpoint_dir, overwrite):
    """--resume writes next to the resumed checkpoints, or into a branch (``checkpoint_dir``)."""
    own = resumed["path"].parent
    if checkpoint_dir and Path(checkpoint_dir).resolve() != own.resolve():
        return _claim(checkpoint_dir, "--checkpoint-dir", overwrite)
    paths.check_dir(own, fix=_("add --checkpoint-dir DIR to continue it in a new folder"))
    later = sorted((p for p in own.glob("*.pth") if epoch_of(p) > resumed["epoch"]), key=epoch_of)
    if later:  # continuing here would overwrite them
        raise LessonError(
            _(
                "--resume {path}: that run already went further ({name}); resume from its newest "
                "checkpoint, or add --checkpoint-dir NEW to branch off here"
            ).format(path=resumed["path"], name=later[-1].name)
        )
    return own


def _saved(checkpoint_dir):
    return sorted(Path(checkpoint_dir).glob("*.pth"), key=epoch_of) if checkpoint_dir else []


def _forget(checkpoint_dir):
    """Remove the folders this run created, if it saved no checkpoint."""
    if not _saved(checkpoint_dir):
        for folder in _made:
            shutil.rmtree(folder, ignore_errors=True)


# -- stopping ------------------------------------------------------------------------------------------


@contextmanager
def keep_finished_epochs(writer, checkpoint_dir, launcher=None, resumable=True):
    """Around the epochs: Ctrl-C closes ``writer``, keeps the finished epochs, prints the command that
    resumes (``launcher``: how the script was started) and exits 130; any stop before the first
    checkpoint removes the run's empty folders. ``resumable``: False for a script without --resume."""
    try:
        yield
    except KeyboardInterrupt:
        writer.close()
        saved = _saved(checkpoint_dir)
        _forget(checkpoint_dir)
        if saved and resumable:
            cmd = " ".join(map(paths.shell_arg, [*(launcher or ["python", sys.argv[0]]), "--resume", saved[-1]]))
            print(
                "\n"
                + _("interrupted: epochs up to {n} are saved in {folder}").format(
                    n=epoch_of(saved[-1]), folder=checkpoint_dir
                )
                + "\n"
                + _("resume with: {cmd}").format(cmd=cmd),
                file=sys.stderr,
                flush=True,
            )
        elif saved:
            print(
                "\n" + _("interrupted: the finished epochs are saved in {folder}").format(folder=checkpoint_dir),
                file=sys.stderr,
                flush=True,
            )
        else:
            print(
                "\n" + _("interrupted before the first epoch finished: nothing saved, nothing left behind"),
                file=sys.stderr,
                flush=True,
            )
        sys.exit(130)
    except BaseException:
        writer.close()
        _forget(checkpoint_dir)
        raise


@contextmanager
def silent_stop():
    """For the other processes of a distributed run: Ctrl-C ends them with 130, without a word
    (process 0 says what was saved and how to resume)."""
    try:
        yield
    except KeyboardInterrupt:
        sys.exit(130)


def _same(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    if isinstance(a, str) and isinstance(b, str):
        return os.path.abspath(a) == os.path.abspath(b) if os.sep in a + b else a == b
    return a == b


def _show(value):
    return _("(none)") if value is None else str(value)


def _flag(key, value):
    """A setting as the flag that gives it: --limit 5, --augment, --no-augment."""
    flag = "--" + key.replace("_", "-")
    if isinstance(value, bool):
        return flag if value else f"--no-{key.replace('_', '-')}"
    return f"{flag} {_show(value)}"


def _data(d):
    if d["kind"] in ("full", "bundled sample"):
        return _("the full CIFAR-10") if d["kind"] == "full" else _("the bundled sample")
    n = d["images"]
    if d["kind"] == "pictures":
        return ngettext("{n} picture in {root}", "{n} pictures in {root}", n).format(n=n, root=d["root"])
    return ngettext("{n} image", "{n} images", n).format(n=n)


def _acc(ck):
    acc = ck.get("test_accuracy")
    return _(", test accuracy {acc:.4f}").format(acc=acc) if isinstance(acc, float) else ""


def epoch_line(n, total, train_loss, seconds, test=None, saved=None, spread=None):
    """The line that ends an epoch: the epoch's mean training loss and time; ``test``: (loss, accuracy),
    ``saved``: the checkpoint's file name, ``spread``: (test images, processes) of a distributed run."""
    if test is None:
        return _("epoch {n}/{total}: train loss {loss:.4f} (epoch mean), {s:.1f} s").format(
            n=n, total=total, loss=train_loss, s=seconds
        )
    where = (
        ""
        if spread is None
        else " "
        + ngettext("({images} images, {k} process)", "({images} images, {k} processes)", spread[1]).format(
            images=spread[0], k=spread[1]
        )
    )
    return _(
        "epoch {n}/{total}: train loss {loss:.4f} (epoch mean), test loss {test_loss:.4f}, test accuracy "
        "{acc:.4f}{where}, {s:.1f} s, saved {name}"
    ).format(n=n, total=total, loss=train_loss, test_loss=test[0], acc=test[1], where=where, s=seconds, name=saved)
