"""Test harness: run a lesson script the way a learner would.

``run_script("08_train/train_gpu.py", "--epochs", "1")`` starts a fresh Python
process in a temp working folder, with ``PYTORCH_LESSONS_HOME`` pointing there
so ``dataset/``, ``logs/`` and ``checkpoints/`` land in the temp folder and the
repository stays clean. No network is used: pass ``--offline`` (the bundled
samples are used).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class Result:
    def __init__(self, proc, home):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.home = Path(home)

    @property
    def lines(self):
        return [line for line in self.stdout.splitlines() if line.strip()]

    def __repr__(self):  # shown by pytest when an assertion fails
        return f"<exit {self.returncode}\n--- stdout:\n{self.stdout[-3000:]}\n--- stderr:\n{self.stderr[-3000:]}>"


def _run(script, args, home, cwd=None, timeout=300, env=None, input=None):
    e = dict(os.environ, PYTORCH_LESSONS_HOME=str(home), PYTHONUNBUFFERED="1",
             PYTHONIOENCODING="utf-8", TQDM_DISABLE="1")
    if env:
        e.update(env)
    proc = subprocess.run([sys.executable, str(REPO / script), *map(str, args)], cwd=str(cwd or home),
                          env=e, capture_output=True, text=True, timeout=timeout, input=input)
    return Result(proc, home)


@pytest.fixture
def run_script(tmp_path):
    """Run a script (path relative to the repo root) in a fresh temp folder."""
    def run(script, *args, **kw):
        return _run(script, args, tmp_path, **kw)
    return run


def last_line(result):
    return result.lines[-1] if result.lines else ""


def one_line_error(res, *needles, prefix="error: "):
    """Assert an expected problem was reported as one stderr line (exit 2, no traceback)
    starting with ``prefix`` and containing every needle; return that line."""
    assert res.returncode == 2, res
    assert "Traceback" not in res.stderr, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), res
    for n in needles:
        assert n in lines[0], res
    return lines[0]
