"""Checkpoints, read without running anyone's code.

Our checkpoints are plain dicts of tensors and plain values::

    {"arch": "tudui", "model": state_dict, "optimizer": state_dict, "epoch": 3,
     "test_accuracy": 0.57, "data": {"kind": "full", "images": 50000}, "settings": {...}, ...}

so ``torch.load(path, weights_only=True)`` (the default since PyTorch 2.6)
reads them. ``weights_only=False`` runs pickle, and a pickle can execute any
code, so nothing here uses it. The course's whole-model files
(``torch.save(tudui, ...)``) are still accepted, through an explicit allowlist
of the layer classes they may contain.
"""

import os
import pickle
import re
import zipfile
from pathlib import Path

import torch
from torch import nn

from .. import paths
from ..errors import LessonError, first_line
from ..model import CIFAR10_CLASSES, Tudui
from .lang import _
from .models import ALL_ARCHS, build_model

# Classes a course-style whole-model file may name. Anything else is refused.
ALLOWED_LAYERS = [
    nn.Sequential,
    nn.Conv2d,
    nn.MaxPool2d,
    nn.Flatten,
    nn.Linear,
    nn.ReLU,
    nn.Sigmoid,
    nn.BatchNorm2d,
    nn.Dropout,
]
# The course saved its network under these class names (in __main__ or model.py).
COURSE_MODEL_NAMES = {"Tudui": "tudui", "Lzh": "tudui"}


def _usable():
    return _(
        "predict.py needs a checkpoint written by 08_train (checkpoints/<script>/<run>/*.pth), "
        "a course whole-model file, or the shipped 09_inference/weights/tudui_cifar10.pth"
    )


def _refuse(path, names):
    return LessonError(
        _(
            "refusing to load {path}: it names {names}, which is not on the allowlist "
            "(unpickling it could run arbitrary code)"
        ).format(path=path, names=", ".join(names))
    )


def load_whole_model(path, map_location, exc):
    """After ``torch.load(path, weights_only=True)`` raised ``exc``: the course's whole-model file,
    read with only the allowlisted classes; anything else is a one-line error."""
    if not isinstance(exc, pickle.UnpicklingError):  # random bytes fail in many ways (EOFError, ...)
        raise LessonError(
            _(
                "{path} is not a PyTorch checkpoint ({problem}); was it written by torch.save, and copied completely?"
            ).format(path=path, problem=first_line(exc)[:100])
        )
    if not zipfile.is_zipfile(path):
        wants = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if wants:  # an old-format pickle asking for a function or class: never run it
            raise _refuse(path, [wants.group(1)])
        raise LessonError(
            _(
                "{path} is not a PyTorch checkpoint ({problem}); was it written by torch.save, and copied completely?"
            ).format(path=path, problem=_("unreadable pickle"))
        )
    names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    allowed = {f"{c.__module__}.{c.__name__}": c for c in ALLOWED_LAYERS}
    safe, refused = [], []
    for name in names:
        if name in allowed:
            safe.append(allowed[name])
        elif name.rsplit(".", 1)[-1] in COURSE_MODEL_NAMES:
            safe.append((Tudui, name))  # read the course's class as ours, by name
        else:
            refused.append(name)
    if refused:
        raise _refuse(path, refused)
    try:
        with torch.serialization.safe_globals(safe):
            model = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc2:
        raise LessonError(
            _("could not load {path}: {problem}").format(path=path, problem=type(exc2).__name__)
        ) from None
    if not isinstance(model, nn.Module):
        raise LessonError(_("{path} holds a {kind}, not a model").format(path=path, kind=type(model).__name__))
    return model


def as_checkpoint(obj, path):
    """Whatever a .pth held (our dict, a bare state_dict, a whole model) as our dict form."""
    if isinstance(obj, nn.Module):
        return {"arch": guess_arch(obj.state_dict()), "model": obj.state_dict()}
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj.setdefault("arch", guess_arch(obj["model"]))
        return obj
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return {"arch": guess_arch(obj), "model": obj}  # a bare state_dict (保存方式2)
    raise LessonError(
        _("{path} does not hold a model (found a {kind}); {usable}").format(
            path=path, kind=type(obj).__name__, usable=_usable()
        )
    )


def read_checkpoint(path, map_location="cpu", flag="--checkpoint"):
    """``torch.load(path, weights_only=True)`` with whole-model files and one-line errors, as our dict."""
    path = paths.existing_file(path, flag, "checkpoint")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        obj = load_whole_model(path, map_location, exc)
    return as_checkpoint(obj, path)


def guess_arch(state_dict):
    keys = set(state_dict)
    if "model.1.running_mean" in keys:
        return "tudui_bn"
    if "model.0.weight" in keys and "model.8.weight" in keys:
        return "tudui"
    if "conv1.weight" in keys and "layer4.2.conv2.weight" in keys:
        return "resnet34"
    if "conv1.weight" in keys and "layer4.1.conv2.weight" in keys:
        return "resnet18"
    return None


def describe(state_dict):
    """A few words on what these weights are, for error messages."""
    keys = set(state_dict)
    if keys == {"conv1.weight", "conv1.bias"}:
        return _("07_save_load's small demo network (one untrained Conv2d), not a CIFAR-10 classifier")
    if "features.0.weight" in keys and "classifier.6.weight" in keys:
        return _("a VGG16 (06/07 lessons), not one of the CIFAR-10 models trained here")
    if not keys:
        return _("no weights at all")
    return _("weights of {n} tensors, e.g. {first}").format(n=len(keys), first=sorted(keys)[0])


def load_weights(model, state_dict, source="checkpoint"):
    """``model.load_state_dict`` with a one-line explanation when they don't fit."""
    mine = model.state_dict()
    missing = [k for k in mine if k not in state_dict]
    unexpected = [k for k in state_dict if k not in mine]
    wrong = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in mine.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(_("missing {n} key(s) e.g. {first}").format(n=len(missing), first=missing[0]))
        if unexpected:
            parts.append(_("{n} unexpected key(s) e.g. {first}").format(n=len(unexpected), first=unexpected[0]))
        if wrong:
            parts.append(_("shape mismatch {first} (checkpoint vs model)").format(first=wrong[0]))
        raise LessonError(
            _("{source} does not fit {model}: {parts} -- it holds {what}").format(
                source=source, model=type(model).__name__, parts=_("; ").join(parts), what=describe(state_dict)
            )
        )
    model.load_state_dict(state_dict)
    return model


def model_from_checkpoint(ckpt, source="checkpoint"):
    """Rebuild the architecture a checkpoint records and load its weights."""
    arch = ckpt.get("arch")
    if arch is None:
        raise LessonError(
            _("{source}: cannot tell which network these weights belong to (it holds {what}); {usable}").format(
                source=source, what=describe(ckpt["model"]), usable=_usable()
            )
        )
    if arch not in ALL_ARCHS:
        raise LessonError(
            _("{source}: unknown architecture {arch!r} (known: {known})").format(
                source=source, arch=arch, known=", ".join(ALL_ARCHS)
            )
        )
    # transfer_learning.py's checkpoints name their classes; the others are CIFAR-10's 10
    return load_weights(build_model(arch, len(ckpt.get("classes") or CIFAR10_CLASSES)), ckpt["model"], source)


def choose_model(requested, checkpoint_dir, shipped, exclude=()):
    """The model file predict.py uses, and why: ``requested`` (--checkpoint) if given; else the
    newest checkpoint trained on the full CIFAR-10; else the shipped model. Prints which newer
    checkpoints were passed over, so the choice is never a surprise."""
    if requested:
        return paths.existing_file(requested, "--checkpoint", "checkpoint"), "--checkpoint"
    skip = [Path(e).resolve() for e in exclude]
    found = (
        [
            p
            for p in Path(checkpoint_dir).rglob("*.pth")
            if p.is_file() and not any(p.resolve().is_relative_to(s) for s in skip)
        ]
        if Path(checkpoint_dir).is_dir()
        else []
    )
    passed_over = None
    for path in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            ck = torch.load(path, map_location="cpu", weights_only=True, mmap=True)  # metadata only
        except Exception:
            continue  # not ours (or damaged): predict.py only picks our own checkpoints by itself
        if not isinstance(ck, dict) or "model" not in ck:
            continue
        data = ck.get("data") or {}
        if data.get("kind") == "full":
            why = _("the newest trained on the full CIFAR-10{accuracy}").format(accuracy=_accuracy(ck))
            break
        passed_over = passed_over or (path, data, ck)
    else:
        path, why = shipped, _("shipped with the lessons, trained on the full CIFAR-10")
        if not shipped.is_file():
            raise LessonError(
                _(
                    "no trained model: nothing trained on the full CIFAR-10 in {folder} and no {shipped}; "
                    "train one (python 08_train/train_gpu.py) or pass --checkpoint PATH"
                ).format(folder=checkpoint_dir, shipped=shipped)
            )
    if passed_over:
        other, data, ck = passed_over
        seen = {
            "bundled sample": _("the bundled sample"),
            "subset": _("{n} images only").format(n=data.get("images", "?")),
            "pictures": _("the pictures in {root}").format(root=data.get("root")),
        }
        # one line, the path once: in the hint the learner can paste
        note = _("note: your newest checkpoint was trained on {data}{accuracy}: pass --checkpoint {path} to use it")
        print(
            note.format(
                data=seen.get(data.get("kind"), _("unknown data")), accuracy=_accuracy(ck), path=paths.shell_arg(other)
            ),
            flush=True,
        )
    return path, why


def _accuracy(ck):
    acc = ck.get("test_accuracy")
    return _(" (test accuracy {acc:.4f})").format(acc=acc) if isinstance(acc, float) else ""


def predict_command(checkpoint, picture=None):
    """The command a training run ends with: 09_inference/predict.py on ``picture`` (None: its dog) with the
    model just saved, quoted for pasting (paths.shell_arg), the script's path as seen from here."""
    script = paths.REPO_ROOT / "09_inference" / "predict.py"
    try:
        script = os.path.relpath(script)
    except ValueError:  # Windows: the repository is on another drive
        pass
    words = ["python", script, *([picture] if picture else []), "--checkpoint", checkpoint]
    return " ".join(map(paths.shell_arg, words))
