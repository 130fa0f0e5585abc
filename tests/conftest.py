"""Test harness: run a lesson script the way a learner would.

``run_script("08_train/train_gpu.py", "--epochs", "1")`` starts a fresh Python
process in a temp working folder, with ``PYTORCH_LESSONS_HOME`` pointing there
so ``dataset/``, ``logs/`` and ``checkpoints/`` land in the temp folder and the
repository stays clean. No network is used: pass ``--offline`` (the bundled
samples are used), or the download fails at once (the machine running the
tests has no route to the data's servers, or ``CIFAR10_URL`` points nowhere).

``launch(...)`` takes the same arguments and returns the same result, from a
process forked from one that already imported torch (see launch.py): for the
many short runs that check flags and bad input.
"""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import launch as launcher

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class Result:
    def __init__(self, returncode, stdout, stderr, home):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.home = Path(home)

    @property
    def lines(self):
        return [line for line in self.stdout.splitlines() if line.strip()]

    def __repr__(self):  # shown by pytest when an assertion fails
        return f"<exit {self.returncode}\n--- stdout:\n{self.stdout[-3000:]}\n--- stderr:\n{self.stderr[-3000:]}>"


def lesson_env(home, env=None):
    # one thread per process: the suite runs two processes at a time on two cores (pytest -n 2);
    # unreachable download servers keep runs without --offline from ever downloading
    e = dict(os.environ, PYTORCH_LESSONS_HOME=str(home), PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8",
             TQDM_DISABLE="1", OMP_NUM_THREADS="1", CIFAR10_URL="https://cifar10.invalid/cifar-10-python.tar.gz")
    e.update(env or {})
    return e


def _run(script, args, home, cwd=None, timeout=300, env=None, input=None):
    proc = subprocess.run([sys.executable, str(REPO / script), *map(str, args)], cwd=str(cwd or home),
                          env=lesson_env(home, env), capture_output=True, text=True, timeout=timeout, input=input)
    return Result(proc.returncode, proc.stdout, proc.stderr, home)


def _launch(script, args, home, cwd=None, timeout=120, env=None):
    out, err = Path(home) / ".launch.out", Path(home) / ".launch.err"
    code = launcher.launch(str(REPO / script), [str(a) for a in args], cwd or home, lesson_env(home, env),
                           out, err, timeout)
    result = Result(code, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8"), home)
    out.unlink()
    err.unlink()
    return result


def pytest_configure(config):
    """With pytest-xdist (-n), keep the tests that share a module fixture (one training run read
    by several tests) on one worker, so that run happens once: --dist loadgroup, unless chosen."""
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"
    if getattr(config, "workerinput", {}).get("lessons_loadgroup"):
        config.option.loadgroup = True  # a worker reads --dist from the command line, not from the line above


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):  # pytest-xdist, on the controller: tell each worker
    node.workerinput["lessons_loadgroup"] = node.config.option.dist == "loadgroup"


@pytest.fixture
def run_script(tmp_path):
    """Run a script (path relative to the repo root) as a fresh `python` process in a temp folder."""
    def run(script, *args, **kw):
        return _run(script, args, tmp_path, **kw)
    return run


@pytest.fixture
def launch(tmp_path):
    """The same as run_script, forked from a process that already imported torch (see launch.py)."""
    def run(script, *args, **kw):
        return _launch(script, args, tmp_path, **kw)
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


def as_saved_on_gpu(cpu_file, gpu_file):
    """Write gpu_file: cpu_file as if torch.save had run on cuda:0. Made without a GPU by
    relabelling the storages' location in the archive's data.pkl (the tensor bytes are the same)."""
    with zipfile.ZipFile(cpu_file) as zin, zipfile.ZipFile(gpu_file, "w", zipfile.ZIP_STORED) as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name.endswith("data.pkl"):
                assert b"X\x03\x00\x00\x00cpu" in data
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            zout.writestr(name, data)
    return gpu_file
