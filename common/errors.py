"""One-line errors: what the learner did wrong and what to do, never a traceback.

Expected problems (a missing file, a bad image, a checkpoint of another model) raise ``LessonError``; ``run(main)``
prints it as one line starting ``error:`` and exits with code 2. So does a folder the script cannot write to (no
permission, a read-only disk, a file where a folder belongs), wherever it was written from. Ctrl-C: 130.
"""

import errno
import os
import sys
from contextlib import contextmanager

from .beyond_course.lang import _

# OSErrors that mean "this place cannot be written": one line naming the folder, not a traceback
UNWRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR)


class LessonError(Exception):
    """An expected problem, reported to the learner as one line."""


def run(main, hard_exit=False):
    """Call ``main()``; LessonError (or an UNWRITABLE OSError) -> ``error: ...`` and exit 2; Ctrl-C ->
    ``interrupted`` and exit 130.

    ``hard_exit``: end with ``os._exit`` after flushing, skipping the interpreter's teardown.
    """
    code = 0
    try:
        main()
    except LessonError as exc:
        print(_("error: {message}").format(message=exc), file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("\n" + _("interrupted"), file=sys.stderr)
        code = 130
    except BrokenPipeError:  # output piped into `head` or a closed pager: not an error
        os._exit(0)
    except OSError as exc:
        if exc.errno not in UNWRITABLE or not exc.filename:
            raise
        from .paths import unwritable  # imported here: paths imports this module

        print(_("error: {message}").format(message=unwritable(exc)), file=sys.stderr)
        code = 2
    except SystemExit as exc:
        if not hard_exit:
            raise
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if hard_exit:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    if code:
        sys.exit(code)


def first_line(exc):
    """The first line of an exception's message (its class name if it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def explain(message, *kinds):
    """Turn the exceptions ``kinds`` raised inside the block into ``LessonError(message (cause))``."""
    try:
        yield
    except kinds as exc:
        raise LessonError(f"{message} ({type(exc).__name__}: {first_line(exc)[:80]})") from None
