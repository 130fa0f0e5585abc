"""Shared plumbing for the lessons (kept thin on purpose, like d2l's helper module).

Lesson scripts show the PyTorch they teach inline; this package only hides the
boring parts: where files go (``paths``), which device to use (``device``),
where the data comes from (``data``), the course model (``model``), shared
command-line flags (``cli``), one-line errors (``errors``), checkpoints
(``checkpoint``), run folders and ``--resume`` (``training``), torchrun plumbing
(``distributed``) and safe image opening (``images``).

Every lesson imports this package *before* torch: loading torch takes a few
seconds, and a Ctrl-C in that time should end in one line, not in a 20-line
KeyboardInterrupt traceback from deep inside torch's import.
"""
import os
import sys


def _one_line_ctrl_c(kind, value, tb, default=sys.excepthook):
    if issubclass(kind, KeyboardInterrupt):
        print("\ninterrupted", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(130)  # the shell's code for Ctrl-C; nothing was started yet, so nothing to clean up
    default(kind, value, tb)


sys.excepthook = _one_line_ctrl_c
