"""A warm pytest for the mutation runs: each mutant's tests in a process forked from one that imported torch.

    python tests/mutation/warm.py serve          # run.sh starts it before cosmic-ray exec, stops it after
    python tests/mutation/warm.py run ARGS...    # a config's test-command: ``python -m pytest ARGS...``, sooner

A fresh ``python -m pytest`` spends most of a mutant's few seconds importing torch twice: once in pytest,
once in the lessons' launch server (tests/launch.py). Here the server process imports torch, pytest and
the picture libraries once, and starts one launch server; each ``run`` is a pytest forked from it, so it
imports only ``common``, the lessons and the tests, from the files as they are now (the mutant). Nothing
under ``common`` is imported before the fork. With no server listening, ``run`` is a plain
``python -m pytest ARGS...``.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
SOCKET = TESTS / "mutation" / ".warm.sock"
LIMIT = 80  # seconds per mutant, under the configs' 90: a run the server kills is reported, not left behind


class _Shared:
    """The launch server as a forked pytest sees it: its pipes, always alive (the parent checks it)."""

    def __init__(self, proc):
        self.stdin, self.stdout = proc.stdin, proc.stdout

    def poll(self):
        return None


def _start_launch_server(launch):
    """One request through tests/launch.py starts its server (a process that imported torch)."""
    launch._server = None
    with tempfile.TemporaryDirectory() as tmp:
        out, err = Path(tmp, "out"), Path(tmp, "err")
        assert launch.launch(os.devnull, [], tmp, dict(os.environ), out, err) == 0, err.read_text()
    proc = launch._server
    launch._server = _Shared(proc)
    return proc


def _pytest_in_fork(args, cwd, env, out):
    """The child: ``python -m pytest args`` in ``cwd`` with ``env``, output into ``out``; its exit code."""
    import pytest

    os.setsid()  # its own group: a run past LIMIT is killed with everything it started
    os.chdir(cwd)
    sys.path[:] = [cwd, *(p for p in sys.path if p != str(TESTS / "mutation"))]  # as `python -m pytest` has it
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115 (the process ends with it)
    sys.stderr = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115
    sys.argv = ["pytest", *args]
    try:
        code = int(pytest.main(args))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def serve():
    sys.dont_write_bytecode = True  # never a stale .pyc of a mutant
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    sys.path.insert(0, str(TESTS))
    import launch  # noqa: I001 (tests/launch.py: the lessons' fork server)
    import numpy, PIL.Image, pytest, torch, torchvision  # noqa: F401, E401 (imported once, here)

    assert not any(m == "common" or m.startswith("common.") for m in sys.modules), "common imported before a fork"
    proc = _start_launch_server(launch)
    SOCKET.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(SOCKET))
    listener.listen(1)
    print(f"warm pytest listening on {SOCKET}", flush=True)
    while True:
        conn, _ = listener.accept()
        with conn, conn.makefile("rw") as f:
            req = json.loads(f.readline())
            if req.get("stop"):
                break
            if proc.poll() is not None:  # the launch server died: a new one
                proc = _start_launch_server(launch)
            pid = os.fork()
            if pid == 0:
                listener.close()
                code = 1
                try:
                    code = _pytest_in_fork(req["args"], req["cwd"], req["env"], req["out"])
                finally:
                    os._exit(code)
            deadline = time.monotonic() + LIMIT
            while not (done := os.waitpid(pid, os.WNOHANG))[0] and time.monotonic() < deadline:
                time.sleep(0.02)
            if done[0]:
                code = os.waitstatus_to_exitcode(done[1])
            else:
                os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                code = "timeout"
                proc.kill()  # it may still be answering the killed run: a new one for the next
                proc.wait()
                proc = _start_launch_server(launch)
            f.write(json.dumps({"code": code}) + "\n")
            f.flush()
    proc.kill()
    SOCKET.unlink(missing_ok=True)


def run(args):
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(str(SOCKET))
    except OSError:  # no server: the plain command
        client.close()
        return subprocess.call([sys.executable, "-m", "pytest", *args])
    with tempfile.TemporaryDirectory() as tmp, client, client.makefile("rw") as f:
        out = Path(tmp, "out")
        # pytest's temp folders in tmp, removed with it: a forked pytest ends with os._exit, so pytest never
        # learns its numbered folder under /tmp/pytest-of-USER is free, and never prunes it (74 GB after 900 mutants)
        args = [*args, "--basetemp", str(Path(tmp, "pytest"))]
        f.write(json.dumps(dict(args=args, cwd=os.getcwd(), env=dict(os.environ), out=str(out))) + "\n")
        f.flush()
        code = json.loads(f.readline())["code"]
        sys.stdout.write(out.read_text(encoding="utf-8", errors="replace") if out.exists() else "")
    if code == "timeout":
        print(f"warm pytest: stopped after {LIMIT} s", flush=True)
        return 1
    return code


def stop():
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(SOCKET))
            client.sendall(b'{"stop": true}\n')
    except OSError:
        pass


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "serve":
        serve()
    elif what == "stop":
        stop()
    else:
        sys.exit(run(sys.argv[2:]))
