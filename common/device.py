"""Pick the device to run on: the machine's accelerator, else the CPU.

``torch.accelerator`` (PyTorch >= 2.6) covers CUDA, ROCm, Apple's MPS, Intel's
XPU ... with one API, so lessons no longer hard-code ``"cuda"``. Careful:
``torch.accelerator.current_accelerator()`` describes the *build*, so on a
CUDA wheel without a GPU it still says ``cuda``; ``is_available()`` is the
question that asks the hardware.
"""
import torch

from .cli import LessonError


def accelerator_or_none():
    """The usable accelerator device type ('cuda', 'mps', ...) or None."""
    if torch.accelerator.is_available():
        return torch.accelerator.current_accelerator().type
    return None


def pick_device(requested=None):
    """Return a torch.device; ``requested`` is what the user passed to --device."""
    if requested is None:
        found = accelerator_or_none()
        return torch.device(found if found else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise LessonError(f"--device {requested!r} is not a device name "
                          "(try cpu, cuda, cuda:0, mps or xpu)") from None
    if device.type == "cpu":
        return device
    if accelerator_or_none() != device.type:
        have = accelerator_or_none() or "no accelerator"
        raise LessonError(f"--device {requested} asked for, but this machine has {have}; "
                          "run with --device cpu (or leave --device out to pick automatically)")
    if device.index is not None and device.index >= torch.accelerator.device_count():
        raise LessonError(f"--device {requested}: only {torch.accelerator.device_count()} "
                          f"{device.type} device(s) here (numbered from 0)")
    return device
