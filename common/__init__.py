"""The lessons' shared helpers, in two layers that every import line tells apart.

``from common import ...``: the thin course helpers a learner may open beside the video: the course's model
(``model``), the device line (``device``), the datasets with the offline sample (``data``, ``hymenoptera``), where
files go (``paths``), one-line errors (``errors``), the shared flags (``cli``) and safe image opening (``images``).

``from common.beyond_course import ...``: what goes beyond the course: run folders and ``--resume``, the fast data
path, mixed precision, torchrun plumbing, downloads, picture-folder checks, checkpoint helpers, the improved
recipe, and the learner's language (``lang``).

Every lesson imports this package *before* torch: loading torch takes a few seconds, and a Ctrl-C in that time
should end in one line, not in a 20-line KeyboardInterrupt traceback from deep inside torch's import.
"""

import os
import sys

from .beyond_course.lang import _ as _  # every line printed, in the learner's language (see lang.py)


def _one_line_ctrl_c(kind, value, tb, default=sys.excepthook):
    if issubclass(kind, KeyboardInterrupt):
        print("\n" + _("interrupted"), file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(130)  # the shell's code for Ctrl-C; nothing was started yet, so nothing to clean up
    default(kind, value, tb)


sys.excepthook = _one_line_ctrl_c
