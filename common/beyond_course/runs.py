"""Run bookkeeping for the training scripts: settings, folders, --resume, Ctrl-C.

The training loop itself stays in each script (it is the lesson), and so do
the course's ``SummaryWriter(...)``, ``torch.save({...})`` and, for --resume,
``load_state_dict(...)`` calls. ``Run`` only decides

* the run's **settings**: the flags given, else the course's values; with
  ``--resume``, the resumed run's own settings (a flag that contradicts them is
  a one-line error, a finished run says how to extend it);
* its **folders**: ``logs/<script>/<time>[_<what differs>]`` and the same under
  ``checkpoints/``, created exclusively so two runs started in the same second
  never share one; an explicit folder that already holds another run is refused
  unless ``--overwrite``;
* what a **checkpoint** records about the run (``record()``: settings, what
  data it saw), beside the weights, optimizer and counters each script writes:
  tensors and plain values, which ``torch.load(path, weights_only=True)``
  reads back without running any code; on --resume, a checkpoint that does
  not fit is one line (``loading()``);
* what **Ctrl-C** does: finished epochs stay, one line says how to resume; a
  run stopped before its first checkpoint leaves no empty folders behind.
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

from .. import paths
from ..data import is_bundled_sample, trained_on, unwrap
from ..errors import LessonError, first_line
from .checkpoint import describe, read_checkpoint
from .recipe import EXPECT_ON_SAMPLE, MEASURED_WITH
from .recipe import defaults as recipe_defaults

# short names for the settings that go into a new run's folder name when they differ from the course
LABELS = {"recipe": "{}", "lr": "lr{}", "batch_size": "b{}", "amp": "{}", "limit": "limit{}", "loader": "{}"}
# settings that older checkpoints recorded in other words: --amp was a switch for bfloat16 autocast
OLD_VALUES = {"amp": {True: "bfloat16", False: "float32"}}


def _holds_a_run(folder):
    """Files another run wrote into ``folder`` (checkpoints, TensorBoard events), if any."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.suffix == ".pth" or p.name.startswith("events.out.tfevents."))


def epoch_of(path):
    """The epoch number in a checkpoint's file name (``tudui_7.pth`` -> 7), or -1."""
    m = re.search(r"_(\d+)\.pth$", Path(path).name)
    return int(m.group(1)) if m else -1


def newest_checkpoint(folder):
    """The newest ``*.pth`` under ``folder`` (recursively): last written, highest epoch; or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = [p for p in folder.rglob("*.pth") if p.is_file()]
    return max(found, key=lambda p: (p.stat().st_mtime, epoch_of(p))) if found else None


class Run:
    """One training run. ``defaults``: the course's settings; ``given``: the settings as typed (None:
    not given); ``resume``/``logdir``/``checkpoint_dir``/``overwrite``: the flags (cli.run_flags).
    ``launcher``: how the script was started (for the resume hint); ``resumable``: False for a script
    without --resume (Ctrl-C then only says where the finished epochs are)."""

    def __init__(self, name, defaults, given, resume=None, logdir=None, checkpoint_dir=None, overwrite=False,
                 launcher=None, resumable=True):
        self.name, self.defaults, self.resumable = name, defaults, resumable
        self.launcher = launcher or ["python", sys.argv[0]]
        self.checkpoint = None       # the dict being resumed (None: a new run)
        self.resumed_from = None
        self._logdir, self._checkpoint_dir, self.overwrite = logdir, checkpoint_dir, overwrite
        self._created = []           # folders this run made (removed again if it saves nothing)
        self.data = None
        if resume:
            settings = self._resume(resume, given, defaults)
            if checkpoint_dir and Path(checkpoint_dir).resolve() == self.resumed_from.parent.resolve():
                self._checkpoint_dir = None  # the resumed run's own folder: continue there, not a branch
        else:
            settings = {k: defaults.get(k) if given.get(k) is None else given[k] for k in {**defaults, **given}}
        for folder, flag in ((logdir, "--logdir"), (self._checkpoint_dir, "--checkpoint-dir")):
            if folder:  # a bad path fails now, before minutes of data loading
                paths.check_dir(folder, flag)
                if not resume or flag == "--checkpoint-dir":
                    self._check_free(folder, flag)
        # so do the folders chosen for you (a read-only checkout, another user's folder)
        if resume and not self._checkpoint_dir:  # it continues in the resumed run's own folder
            paths.check_dir(self.resumed_from.parent, fix="add --checkpoint-dir DIR to continue it in a new folder")
        elif not resume:
            for base, given in ((paths.LOGS_DIR, logdir), (paths.CHECKPOINT_DIR, self._checkpoint_dir)):
                if not given:
                    paths.check_dir(base / name)
        self.settings = SimpleNamespace(**settings)
        ck = self.checkpoint or {}
        self.start_epoch = ck.get("epoch", 0)
        self.total_train_step = ck.get("total_train_step", 0)   # the course's counters, continued
        self.total_test_step = ck.get("total_test_step", 0)
        self.test_accuracy = ck.get("test_accuracy")
        self.logdir = self.checkpoint_dir = None

    # -- --resume ----------------------------------------------------------------------------------

    def _find(self, resume):
        if resume == "latest":
            base = Path(self._checkpoint_dir) if self._checkpoint_dir else paths.CHECKPOINT_DIR / self.name
            found = newest_checkpoint(base)
            if found is None:
                raise LessonError(f"--resume: no checkpoint found under {base} (give the file: --resume PATH)")
            return found
        path = Path(resume)
        if path.is_dir():
            found = newest_checkpoint(path)
            if found is None:
                raise LessonError(f"--resume {resume}: no .pth file in that folder")
            return found
        return paths.existing_file(path, "--resume", "checkpoint")

    def _resume(self, resume, given, defaults):
        found = self._find(resume)
        ck = read_checkpoint(found, flag="--resume")
        if "optimizer" not in ck or "epoch" not in ck:
            raise LessonError(f"--resume {found}: this is a model file, not a training checkpoint "
                              "(it has no optimizer state / epoch); 09_inference/predict.py can use it")
        recorded = {k: OLD_VALUES[k].get(v, v) if k in OLD_VALUES else v for k, v in (ck.get("settings") or {}).items()}
        settings = {}
        for key in dict.fromkeys([*defaults, *given]):
            value, had = given.get(key), recorded.get(key)
            if value == "auto":
                value = None  # --amp lets the device choose: the run chose when it started (also after a restart)
            if key in recorded and value is not None and key != "epochs" and not _same(value, had):
                flag = "--" + key.replace("_", "-")
                raise LessonError(f"--resume {found}: that run used {flag} {_show(had)}, you gave {flag} "
                                  f"{_show(value)}; leave {flag} out to continue the run as it was, or start a "
                                  "new run without --resume")
            settings[key] = value if value is not None else recorded.get(key, defaults.get(key))
        arch = settings.get("model")
        if ck.get("arch") and arch and ck["arch"] != arch:
            raise LessonError(f"--resume {found}: it holds a {ck['arch']} model, but this run trains {arch}")
        if ck["epoch"] >= settings["epochs"]:
            raise LessonError(f"--resume {found}: that run is finished ({ck['epoch']} of {settings['epochs']} epochs"
                              f"{_acc(ck)}); to train it further add --epochs N with N > {ck['epoch']}")
        self.checkpoint, self.resumed_from = ck, found
        shown = ", ".join(f"{k} {v}" for k, v in settings.items() if k != "epochs" and v is not None)
        print(f"resuming {found}: epoch {ck['epoch']} of {settings['epochs']} finished{_acc(ck)}; "
              f"continuing with that run's settings ({shown})"
              + ("" if recorded else " -- this checkpoint does not record them: using the flags"), flush=True)
        return settings

    # -- folders -------------------------------------------------------------------------------------

    def _label(self):
        parts = [time.strftime("%Y%m%d-%H%M%S")]
        for key, fmt in LABELS.items():
            value = getattr(self.settings, key, None)
            if value is not None and value is not False and value != self.defaults.get(key):
                parts.append(fmt.format(value))
        return "_".join(parts)

    def _check_free(self, folder, flag):
        """An explicit folder for a new run must not hold another run's files (unless --overwrite)."""
        taken = _holds_a_run(folder)
        if taken and not self.overwrite:
            shown = ", ".join(taken[:2]) + (" ..." if len(taken) > 2 else "")
            raise LessonError(f"{flag} {folder} already holds another run ({shown}): continue that run with "
                              f"--resume {paths.shell_arg(folder)}, pick another folder, or add --overwrite to "
                              "replace it")
        return taken

    def _claim_explicit(self, folder, flag):
        taken = self._check_free(folder, flag)
        folder = self._make(folder, flag)
        for name in taken:  # --overwrite: the learner asked to start afresh here
            (folder / name).unlink()
        return folder

    def _make(self, folder, flag):
        made = [p for p in [Path(folder), *Path(folder).absolute().parents] if not p.exists()]
        folder = paths.ensure_dir(folder, flag)
        self._created.append(made[-1] if made else folder)
        return folder

    def _claim_fresh(self):
        """logs/<name>/<label> and checkpoints/<name>/<label>, made with an exclusive mkdir."""
        label = self._label()
        for n in range(1, 1000):
            stem = label if n == 1 else f"{label}-{n}"
            mine = []
            try:
                for base, explicit in ((paths.CHECKPOINT_DIR, self._checkpoint_dir), (paths.LOGS_DIR, self._logdir)):
                    if not explicit:
                        folder = base / self.name / stem
                        paths.ensure_dir(folder.parent)
                        folder.mkdir()  # exclusive: fails if another run made it first
                        mine.append(folder)
                self._created += mine
                return stem
            except FileExistsError:
                for folder in mine:
                    folder.rmdir()
        raise LessonError(f"could not find a free run folder name under {paths.CHECKPOINT_DIR / self.name}")

    def start(self):
        """Decide and create the run's folders (call just before the first epoch); print where they are."""
        try:
            if self.checkpoint is None:
                stem = self._claim_fresh()
                self.checkpoint_dir = (self._claim_explicit(self._checkpoint_dir, "--checkpoint-dir")
                                       if self._checkpoint_dir else paths.CHECKPOINT_DIR / self.name / stem)
                if not self._logdir:
                    self.logdir = paths.LOGS_DIR / self.name / stem
                elif Path(self._logdir).resolve() == self.checkpoint_dir.resolve():
                    self.logdir = self.checkpoint_dir  # one folder for both: already checked
                else:
                    self.logdir = self._claim_explicit(self._logdir, "--logdir")
            else:
                self._continue_folders()
        except BaseException:
            self._forget()
            raise
        # a run that saved nothing leaves nothing, also when it ends outside stop_cleanly (an error while
        # the data loads); os._exit skips atexit, so train_ddp.py only uses it after stop_cleanly cleaned up
        atexit.register(self._forget)
        print(f"tensorboard: {self.logdir}   checkpoints: {self.checkpoint_dir}", flush=True)

    def _continue_folders(self):
        """--resume: append to the run's own curves; write next to its checkpoints (or into a new branch)."""
        if self._logdir:
            self.logdir = paths.ensure_dir(self._logdir, "--logdir")
        else:  # the run's own curves
            self.logdir = paths.ensure_dir(self.checkpoint.get("logdir") or paths.LOGS_DIR / self.name / "resumed",
                                           fix="pass --logdir DIR to write the curves elsewhere")
        if self._checkpoint_dir:  # a folder of its own: a branch of the resumed run
            self.checkpoint_dir = self._claim_explicit(self._checkpoint_dir, "--checkpoint-dir")
            return
        self.checkpoint_dir = self.resumed_from.parent
        later = sorted((p for p in self.checkpoint_dir.glob("*.pth") if epoch_of(p) > self.start_epoch),
                       key=epoch_of)
        if later:  # continuing here would overwrite them
            raise LessonError(f"--resume {self.resumed_from}: that run already went further ({later[-1].name}); "
                              "resume from its newest checkpoint, or add --checkpoint-dir NEW to branch off here")

    @property
    def purge_step(self):
        """For SummaryWriter: on --resume, drop curve points written after the checkpoint."""
        return self.total_train_step if self.checkpoint else None

    # -- data, weights, checkpoints ------------------------------------------------------------------

    def note_data(self, train_set):
        """Record what the model trains on (for its checkpoints); on the bundled sample, say what to expect."""
        self.data = trained_on(train_set)
        had = (self.checkpoint or {}).get("data")
        if had and had != self.data:  # e.g. trained offline on the sample, and now CIFAR-10 is there
            raise LessonError(f"--resume {self.resumed_from}: that run trained on {_data(had)}, this one would "
                              f"train on {_data(self.data)}; start a new run instead")
        if is_bundled_sample(train_set):
            recipe = getattr(self.settings, "recipe", "course")  # train.py has no --recipe: the course's
            expect, end, full = EXPECT_ON_SAMPLE[recipe]
            measured = recipe_defaults(recipe)  # the recipe's own settings, also when --resume brought the recipe
            run = {key: getattr(self.settings, key) for key in MEASURED_WITH if hasattr(self.settings, key)}
            if unwrap(train_set)[1] is None:
                run["limit"] = None  # a --limit of the sample's size or more takes all of it
            differs = [_flag(key, value) for key, value in run.items() if not _same(value, measured.get(key))]
            said = (f"expect {expect}; the full set gives {full}" if not differs else
                    f"this run differs from the measured ones ({', '.join(differs)}), so there is no range to "
                    f"expect: with the default settings the whole sample gives {end}, the full set {full}")
            print(f"note: training on {len(train_set):,} images of the bundled sample "
                  f"({100 * len(train_set) / 50_000:.2g}% of CIFAR-10's 50,000) -- {said}", flush=True)

    def record(self):
        """What every checkpoint holds besides the weights and counters: the run's settings, what data
        it trained on, which script and curves it belongs to (read by --resume and predict.py)."""
        return {"settings": vars(self.settings), "data": self.data, "script": self.name, "logdir": str(self.logdir)}

    def loading(self):
        """Around the ``load_state_dict`` calls of --resume: a checkpoint that does not fit is one line."""
        return loading(self.checkpoint, f"--resume {self.resumed_from}")

    # -- stopping ---------------------------------------------------------------------------------------

    def _saved(self):
        return sorted(self.checkpoint_dir.glob("*.pth"), key=epoch_of) if self.checkpoint_dir else []

    def _forget(self):
        """Remove the folders this run created, if it saved no checkpoint."""
        if self.checkpoint is None and not self._saved():
            for folder in self._created:
                shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def stop_cleanly(self, writer):
        """Around the epochs: Ctrl-C keeps finished epochs, prints how to resume and exits 130; any
        stop before the first checkpoint removes the run's empty folders."""
        try:
            yield
        except KeyboardInterrupt:
            writer.close()
            saved = self._saved()
            self._forget()
            if saved and self.resumable:
                cmd = " ".join(map(paths.shell_arg, [*self.launcher, "--resume", saved[-1]]))
                print(f"\ninterrupted: epochs up to {epoch_of(saved[-1])} are saved in {self.checkpoint_dir}"
                      f"\nresume with: {cmd}", file=sys.stderr, flush=True)
            elif saved:
                print(f"\ninterrupted: the finished epochs are saved in {self.checkpoint_dir}", file=sys.stderr,
                      flush=True)
            else:
                print("\ninterrupted before the first epoch finished: nothing saved, nothing left behind",
                      file=sys.stderr, flush=True)
            sys.exit(130)
        except BaseException:
            writer.close()
            self._forget()
            raise
        writer.close()


@contextmanager
def loading(ck, source):
    """Around ``load_state_dict(ck[...])`` calls: a checkpoint that does not fit is one line."""
    try:
        yield
    except KeyError as exc:
        raise LessonError(f"{source}: the checkpoint holds no {exc}") from None
    except (RuntimeError, ValueError) as exc:
        raise LessonError(f"{source}{_why_not_fit(exc, ck['model'])}") from None


def _why_not_fit(exc, state_dict):
    """PyTorch's load_state_dict / optimizer error, shortened to its first problem."""
    text = re.sub(r"torch\.Size\(\[([\d, ]*)\]\)", r"(\1)", str(exc))
    m = re.match(r"Error\(s\) in loading state_dict for (\w+):\s*(.+)", text, re.S)
    if not m:  # the optimizer's ValueError: another number of parameters or groups
        return f": the optimizer state does not fit this run ({first_line(exc)})"
    problem = m.group(2).strip().splitlines()[0].strip().rstrip(".")
    size = re.match(r"size mismatch for (\S+): copying a param with shape (\(.*?\)) from checkpoint, "
                    r"the shape in current model is (\(.*?\))", problem)
    if size:
        problem = f"shape mismatch {size[1]} {size[2]} vs {size[3]} (checkpoint vs model)"
    else:  # Missing key(s) in state_dict: "a", "b", ... -> the first two
        problem = re.sub(r'^(.*?: "[^"]*", "[^"]*"),.*', r"\1 ...", problem)
    return f" does not fit {m[1]}: {problem} -- it holds {describe(state_dict)}"


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
    return "(none)" if value is None else str(value)


def _flag(key, value):
    """A setting as the flag that gives it: --limit 5, --augment, --no-augment."""
    flag = "--" + key.replace("_", "-")
    if isinstance(value, bool):
        return flag if value else f"--no-{key.replace('_', '-')}"
    return f"{flag} {_show(value)}"


def _data(d):
    return {"full": "the full CIFAR-10", "bundled sample": "the bundled sample"}.get(d["kind"], f"{d['images']} images")


def _acc(ck):
    acc = ck.get("test_accuracy")
    return f", test accuracy {acc:.4f}" if isinstance(acc, float) else ""
