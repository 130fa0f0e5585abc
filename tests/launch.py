"""Run a lesson script in a process forked from a warm one: the same run as `python script.py`, 3 s sooner.

A fresh ``python script.py`` spends about 3 s importing torch, torchvision and
TensorBoard before it reads its first flag; the suite runs the lessons a few
hundred times. Here a small server process imports those libraries once; each
run is a new process forked from it that runs the script as ``__main__`` with
its own argv, environment and working folder, as ``python script.py ...``
would, only without paying for the imports again. The main job's smoke run
(test_08_train.py) and the tests of the process itself (stdin, Ctrl-C,
spawned workers) still start a fresh ``python`` (conftest.py's run_script).

Where there is no ``os.fork`` (Windows), each run is that fresh ``python
script.py ...`` process instead: the same run, only slower. ``LESSONS_TESTS_NO_FORK=1``
takes that way on any system (how the Windows branch is tested on Linux).
"""

import atexit
import importlib
import io
import json
import os
import runpy
import signal
import subprocess
import sys
import time
import traceback

PRELOAD = ["torch", "torchvision", "torch.utils.tensorboard", "PIL.Image", "numpy", "cv2", "tqdm"]
_server = None


def _call(names):
    """Call the functions "module:function,module:function" (modules of tests/, imported by name)."""
    for name in names.split(","):
        module, _, function = name.partition(":")
        getattr(importlib.import_module(module), function)()


def names(functions):
    """Module-level functions (one, or a tuple: each in turn) as "module:function,..." for _call; None: none."""
    functions = functions if isinstance(functions, tuple) else [functions] if functions else []
    return ",".join(f"{f.__module__}:{f.__qualname__}" for f in functions) or None


def _run_script(script, argv, cwd, env, out, err, preexec, before):
    """In the forked child: become `python script argv...` and run it; return its exit code."""
    if preexec:  # "module:function", as subprocess's preexec_fn: called in the child before the script runs
        _call(preexec)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    for fd, path in ((0, os.devnull), (1, out), (2, err)):
        f = os.open(path, os.O_RDONLY if fd == 0 else os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(f, fd)
        os.close(f)
    # the encoding `python` takes from PYTHONIOENCODING ("gbk", "gbk:replace"): a GBK console can be tested here
    encoding, _, errors = env.get("PYTHONIOENCODING", "").partition(":")
    sys.stdout = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False), encoding=encoding or "utf-8", errors=errors or "strict", line_buffering=True
    )
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False),
        encoding=encoding or "utf-8",
        errors=errors or "backslashreplace",
        line_buffering=True,
    )
    sys.argv = [script, *argv]
    if before:  # "module:function,...": called in the script's own process, just before it (launch.py --before)
        _call(before)
    sys.path[0] = os.path.dirname(script)  # what `python script.py` puts first
    try:
        runpy.run_path(script, run_name="__main__")
        return 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def serve():
    """The server: import the heavy libraries once, then fork one child per request line."""
    for name in PRELOAD:
        importlib.import_module(name)
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os._exit(
                _run_script(*(req[k] for k in ("script", "argv", "cwd", "env", "out", "err", "preexec", "before")))
            )
        deadline = time.monotonic() + req["timeout"]
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                code = "timeout"
                break
            time.sleep(0.005)
        print(json.dumps({"code": code}), flush=True)


def command(script, argv, before=None):
    """``python script argv...``; with ``before``: ``python launch.py --before module:function script argv...``,
    which calls that function in the new process and then runs the script as `python script` would."""
    return [sys.executable, *([__file__, "--before", before] if before else []), str(script), *argv]


def _fresh(script, argv, cwd, env, out, err, timeout, preexec_fn, before):
    """Without fork: ``python script argv...`` as a new process, its output into the files out, err."""
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        try:
            return subprocess.run(
                command(script, argv, before),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                timeout=timeout,
                preexec_fn=preexec_fn,
            ).returncode
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{script} {argv} ran longer than {timeout} s") from None


def _stop(server):
    """At exit: the server ends when its stdin closes; wait for it (no 'still running' warning)."""
    server.stdin.close()
    server.wait(timeout=60)
    server.stdout.close()


def launch(script, argv, cwd, env, out, err, timeout=120, preexec_fn=None, before=None):
    """Run ``script`` with ``argv`` in a fresh fork (else a fresh process); return its exit code
    (output: the files out, err). ``preexec_fn``: a module-level function, called in the child first
    (the server imports it by name). ``before``: a function of a module in tests/ that takes the place of
    something the script uses (a clock, torch.save), called in the script's process just before it runs
    (a tuple: each in turn)."""
    before = names(before)
    if not hasattr(os, "fork") or os.environ.get("LESSONS_TESTS_NO_FORK") == "1":
        return _fresh(script, argv, cwd, env, out, err, timeout, preexec_fn, before)
    global _server
    if _server is None or _server.poll() is not None:
        pipe, server_env = subprocess.PIPE, dict(os.environ, OMP_NUM_THREADS="1")
        _server = subprocess.Popen([sys.executable, __file__], stdin=pipe, stdout=pipe, text=True, env=server_env)
        atexit.register(_stop, _server)
    request = dict(script=str(script), argv=list(argv), cwd=str(cwd), env=env, out=str(out), err=str(err))
    request.update(timeout=timeout, preexec=names(preexec_fn), before=before)
    _server.stdin.write(json.dumps(request) + "\n")
    _server.stdin.flush()
    code = json.loads(_server.stdout.readline())["code"]
    if code == "timeout":
        raise TimeoutError(f"{script} {argv} ran longer than {timeout} s")
    return code


if __name__ == "__main__":
    if sys.argv[1:2] == ["--before"]:  # command(): call the function, then be `python script argv...`
        _call(sys.argv[2])
        sys.argv = sys.argv[3:]
        sys.path[0] = os.path.dirname(sys.argv[0])
        runpy.run_path(sys.argv[0], run_name="__main__")
    else:
        serve()
