"""Checkpoints: written atomically, read without running anyone's code.

Our checkpoints are plain dicts of tensors and numbers::

    {"arch": "tudui", "model": state_dict, "optimizer": state_dict,
     "epoch": 3, "total_train_step": ..., "total_test_step": ..., ...}

so ``torch.load(path, weights_only=True)`` (the default since PyTorch 2.6)
reads them. ``weights_only=False`` runs pickle, and a pickle can execute any
code, so this module never uses it. The course's whole-model files
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

from .cli import LessonError
from .model import Tudui, build_model

# Classes a course-style whole-model file may name. Anything else is refused.
ALLOWED_LAYERS = [nn.Sequential, nn.Conv2d, nn.MaxPool2d, nn.Flatten, nn.Linear,
                  nn.ReLU, nn.Sigmoid, nn.BatchNorm2d, nn.Dropout]
# The course saved its network under these class names (in __main__ or model.py).
COURSE_MODEL_NAMES = {"Tudui": "tudui", "Lzh": "tudui"}


def save_checkpoint(obj, path):
    """torch.save to a temp file, then rename: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)  # atomic on the same file system (POSIX and Windows)
    finally:
        if tmp.exists():  # interrupted mid-write: drop the partial file, keep the old one
            tmp.unlink()


def guess_arch(state_dict):
    keys = set(state_dict)
    if "model.1.running_mean" in keys:
        return "tudui_bn"
    if "model.0.weight" in keys and "model.8.weight" in keys:
        return "tudui"
    if "conv1.weight" in keys and "layer4.2.conv2.weight" in keys:
        return "resnet34"
    return None


def _whole_model_globals(path):
    """Map every class the file names to an allowed class, or refuse."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception as exc:
        raise LessonError(f"{path} is not a PyTorch checkpoint ({type(exc).__name__})") from None
    allowed = {f"{c.__module__}.{c.__name__}": c for c in ALLOWED_LAYERS}
    safe, refused, arch = [], [], None
    for name in names:
        short = name.rsplit(".", 1)[-1]
        if name in allowed:
            safe.append(allowed[name])
        elif short in COURSE_MODEL_NAMES:
            safe.append((Tudui, name))  # read the course's class as ours, by name
            arch = COURSE_MODEL_NAMES[short]
        else:
            refused.append(name)
    if refused:
        raise LessonError(f"refusing to load {path}: it names {', '.join(refused)}, which is not on the "
                          "allowlist (unpickling it could run arbitrary code)")
    return safe, arch


def load_checkpoint(path, map_location="cpu"):
    """Read a checkpoint safely and return our dict form (``arch``, ``model``, ...).

    Accepts our checkpoint dicts, a bare ``state_dict`` and the course's
    whole-model files (allowlisted classes only). ``map_location`` moves
    tensors saved on a GPU onto this machine's device.
    """
    path = str(path)
    if not os.path.exists(path):
        raise LessonError(f"checkpoint {path} does not exist")
    if os.path.isdir(path):
        raise LessonError(f"checkpoint {path} is a folder, not a file")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if not zipfile.is_zipfile(path):
            wants = re.search(r"GLOBAL ([\w.]+)", str(exc))
            if wants:  # an old-format pickle asking for a function or class: never run it
                raise LessonError(f"refusing to load {path}: it names {wants.group(1)}, which is not on "
                                  "the allowlist (unpickling it could run arbitrary code)") from None
            raise LessonError(f"{path} is not a PyTorch checkpoint (unreadable pickle)") from None
        safe, arch = _whole_model_globals(path)
        try:
            with torch.serialization.safe_globals(safe):
                obj = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as exc:
            raise LessonError(f"could not load {path}: {type(exc).__name__}") from None
        if not isinstance(obj, nn.Module):
            raise LessonError(f"{path} holds a {type(obj).__name__}, not a model")
        return {"arch": arch, "model": obj.state_dict()}
    except Exception as exc:  # random bytes can fail in many ways (EOFError, IndexError, ...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LessonError(f"{path} is not a PyTorch checkpoint ({first})") from None
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj.setdefault("arch", guess_arch(obj["model"]))
        return obj
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return {"arch": guess_arch(obj), "model": obj}  # a bare state_dict (method 2)
    raise LessonError(f"{path} does not hold a model (found a {type(obj).__name__})")


def load_weights(model, state_dict, source="checkpoint"):
    """``model.load_state_dict`` with a one-line explanation when they don't fit."""
    mine = model.state_dict()
    missing = [k for k in mine if k not in state_dict]
    unexpected = [k for k in state_dict if k not in mine]
    wrong = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
             for k, v in mine.items() if k in state_dict and state_dict[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s) e.g. {missing[0]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s) e.g. {unexpected[0]}")
        if wrong:
            parts.append(f"shape mismatch {wrong[0]} (checkpoint vs model)")
        raise LessonError(f"{source} does not fit {type(model).__name__}: " + "; ".join(parts))
    model.load_state_dict(state_dict)
    return model


def model_from_checkpoint(ckpt, source="checkpoint"):
    """Rebuild the architecture a checkpoint records and load its weights."""
    arch = ckpt.get("arch")
    if arch is None:
        raise LessonError(f"{source}: cannot tell which architecture these weights belong to "
                          "(no 'arch' entry and the keys match no known model)")
    try:
        model = build_model(arch)
    except ValueError as exc:
        raise LessonError(f"{source}: {exc}") from None
    return load_weights(model, ckpt["model"], source)


def newest_checkpoint(folder, exclude=()):
    """The most recently written ``*.pth`` under ``folder`` (searched recursively), or None.

    ``exclude``: folders whose files don't count (e.g. lesson 07's untrained demo files).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    skip = [Path(e).resolve() for e in exclude]
    found = [p for p in folder.rglob("*.pth")
             if p.is_file() and not any(p.resolve().is_relative_to(s) for s in skip)]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None
