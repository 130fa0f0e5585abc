"""Which device to run on: the machine's accelerator, else the CPU.

``torch.accelerator`` (PyTorch >= 2.6) covers CUDA, ROCm, Apple's MPS, Intel's XPU ... with one API, so lessons
no longer hard-code ``"cuda"``. Careful: ``current_accelerator()`` describes the *build* (a CUDA wheel says
``cuda`` even without a GPU); ``is_available()`` is the question that asks the hardware.
"""

import torch

from .beyond_course.lang import _
from .errors import LessonError


def check_device(requested):
    """``torch.device(requested)`` for a --device value, or a one-line error saying what this machine has."""
    try:
        device = torch.device(requested)
    except RuntimeError:
        msg = _("--device {requested!r} is not a device name (try cpu, cuda, cuda:0, mps or xpu)")
        raise LessonError(msg.format(requested=requested)) from None
    if device.type == "cpu":
        return device
    have = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else None
    if have != device.type:
        msg = _(
            "--device {requested} asked for, but this machine has {has}; run with --device cpu "
            "(or leave --device out to pick automatically)"
        )
        raise LessonError(msg.format(requested=requested, has=have or _("no accelerator")))
    count = torch.accelerator.device_count()
    if device.index is not None and device.index >= count:
        msg = _("--device {requested}: only {count} {type} device(s) here (numbered from 0)")
        raise LessonError(msg.format(requested=requested, count=count, type=device.type))
    return device


def pick_device(requested=None):
    """--device if given (checked), else the accelerator if there is one, else the CPU."""
    if requested:
        return check_device(requested)
    if torch.accelerator.is_available():
        return torch.accelerator.current_accelerator()
    return torch.device("cpu")
