"""DataLoader workers started the way Windows and macOS start them ("spawn"), here on Linux.

Linux starts DataLoader workers by forking: each worker is a copy of the running
process, so a script that forgets ``if __name__ == "__main__":`` works here and
fails on a learner's Windows PC or Mac. There every worker is a fresh Python
that imports the script again (as ``__mp_main__``), and whatever the script
does at import time runs again in the worker.

Spawn is forced without touching the scripts: a ``sitecustomize.py`` on
PYTHONPATH (Python imports it when any process starts) sets the start method
in the script's process. It also writes one record per process it starts in,
so the test sees that the workers really were new Pythons started by
``multiprocessing.spawn`` (a forked worker never runs sitecustomize, so it
leaves no record) and, when they exit, that they ran the DataLoader's worker
loop under the "spawn" start method.
"""

import json
import multiprocessing
import os
import re
from pathlib import Path

import pytest

from helpers import REPO, run_fresh

SCRIPTS = sorted(str(p.relative_to(REPO)) for p in REPO.glob("0*/*.py"))
ARGS = ["--offline", "--limit", "128", "--num-workers", "1"]
WORKERS = 1
WORKER_LOOP = "torch.utils.data._utils.worker._worker_loop"  # what a DataLoader worker process runs
BOOTSTRAP = (
    "RuntimeError: An attempt has been made to start a new process before the current process "
    "has finished its bootstrapping phase."
)

SITECUSTOMIZE = '''\
"""Test hook (tests/test_spawn_workers.py): start DataLoader workers with spawn; log every process."""
import atexit, importlib.machinery, importlib.util, json, multiprocessing, os, sys

_log = os.environ["SPAWN_TEST_LOG"]
_main = "SPAWN_TEST_MAIN" not in os.environ  # the script's own process (children inherit the variable)
if _main:
    os.environ["SPAWN_TEST_MAIN"] = str(os.getpid())
    multiprocessing.set_start_method("spawn", force=True)


def _record(**fields):
    with open(_log, "a", encoding="utf-8") as f:
        f.write(json.dumps(dict(pid=os.getpid(), ppid=os.getppid(), **fields)) + "\\n")


def _at_exit():
    target = getattr(multiprocessing.current_process(), "_target", None)  # a worker's function
    _record(event="exit", start_method=multiprocessing.get_start_method(allow_none=True),
            target=f"{target.__module__}.{target.__qualname__}" if target else None)


_record(event="start", main=_main, argv=sys.argv)  # spawn's children: ["-c", "--multiprocessing-fork"]
atexit.register(_at_exit)

# keep working any sitecustomize.py this one hides (a virtualenv's or coverage's hook)
_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if os.path.abspath(p or ".") != _here])
if _spec is not None:
    _spec.loader.exec_module(importlib.util.module_from_spec(_spec))
'''


def spawn_env(tmp):
    """Environment additions that make a script's DataLoader workers start with spawn, and the log file."""
    hook = tmp / "spawn_hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp / "spawn.log"
    log.unlink(missing_ok=True)
    path = os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "SPAWN_TEST_LOG": str(log)}, log


def spawned_children(log):
    """(the main process's exit record, [(start, exit-or-None) of each process spawn started for it])."""
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    mains = [r for r in records if r["event"] == "start" and r["main"]]
    assert len(mains) == 1, f"sitecustomize did not run as expected: {records}"
    pid = mains[0]["pid"]
    exits = {r["pid"]: r for r in records if r["event"] == "exit"}
    children = [
        (r, exits.get(r["pid"]))
        for r in records
        if r["event"] == "start" and r["ppid"] == pid and r["argv"][-1:] == ["--multiprocessing-fork"]
    ]
    assert pid in exits, f"the script's process left no exit record: {records}"
    return exits[pid], children


def num_workers_scripts(run_script):
    found = [s for s in SCRIPTS if "--num-workers" in run_script(s, "--help").stdout]
    assert "01_dataset/dataloader.py" in found  # the lesson that teaches workers
    return found


def test_num_workers_scripts_run_with_spawned_workers(run_script, tmp_path):
    env, log = spawn_env(tmp_path)
    for script in num_workers_scripts(run_script):
        res = run_script(script, *ARGS, env=env, timeout=240, fresh=True)
        assert res.returncode == 0 and "Traceback" not in res.stderr, (script, res)
        main, children = spawned_children(log)
        assert main["start_method"] == "spawn", (script, main)
        # fresh Pythons started by multiprocessing.spawn, and all of them ran the DataLoader's worker loop
        assert len(children) >= WORKERS, (script, children)
        assert all(end and end["start_method"] == "spawn" and end["target"] == WORKER_LOOP for _, end in children), (
            script,
            children,
        )
        log.unlink()
        # workers change how the batches are loaded, not which: the same output as loading in-process
        # (lines with a time in seconds aside)
        same = run_script(script, *ARGS[:-1], "0")
        assert same.returncode == 0, same
        untimed = [[line for line in r.lines if not re.search(r"\d s\b", line)] for r in (res, same)]
        assert untimed[0] == untimed[1], (script, res, same)
        if script == "01_dataset/dataloader.py":
            assert "128 images, batch_size 64: 2 batches with drop_last=True" in res.stdout
            assert "epoch 0: 2 steps" in res.stdout and "epoch 1: 2 steps" in res.stdout
            assert len(re.findall(r"epoch \d step 0: imgs \(64, 3, 32, 32\), first targets \[", res.stdout)) == 2
            assert len(children) == 2 * WORKERS  # 2 epochs, new workers for each (no persistent_workers)


def unguarded_copy(tmp):
    """01_dataset/dataloader.py with an unguarded ``errors.run(main)`` as its last line, at
    tmp/01_dataset/dataloader.py next to a tmp/common link: its sys.path line (parents[1]) then
    finds ``common`` as the original does."""
    source = (REPO / "01_dataset" / "dataloader.py").read_text(encoding="utf-8")
    guard = 'if __name__ == "__main__":\n    errors.run(main)\n'
    assert source.endswith(guard), "the guard at the end of dataloader.py changed: update this test"
    (tmp / "01_dataset").mkdir()
    copy = tmp / "01_dataset" / "dataloader.py"
    copy.write_text(source[: -len(guard)] + "errors.run(main)  # no __main__ guard\n", encoding="utf-8")
    try:
        (tmp / "common").symlink_to(REPO / "common", target_is_directory=True)
    except OSError as exc:  # Windows without the symlink privilege
        pytest.skip(f"cannot make a symlink here: {exc}")
    return copy


_unguarded = {}


def unguarded_spawn_run(tmp_path_factory):
    """Run the unguarded copy with spawned workers, once per test session (test_error_guide uses it too).
    Returns (result, main process's exit record, spawned children)."""
    if "run" not in _unguarded:
        tmp = tmp_path_factory.mktemp("unguarded")
        copy = unguarded_copy(tmp)
        env, log = spawn_env(tmp)
        res = run_fresh(str(copy), ARGS, tmp, env=env, timeout=240)
        _unguarded["run"] = (res, *spawned_children(log))
    return _unguarded["run"]


@pytest.mark.xdist_group("unguarded_spawn")  # its run is reused by test_error_guide: one worker, one run
def test_without_the_main_guard_spawned_workers_fail_at_bootstrapping(tmp_path_factory, run_script):
    res, main, children = unguarded_spawn_run(tmp_path_factory)
    assert main["start_method"] == "spawn", main
    assert len(children) >= 1, children
    # Each spawned worker imports the script again; unguarded, that runs main() once more (its first
    # lines print again), whose DataLoader tries to start workers of its own while the worker is still
    # starting up, and multiprocessing stops it. The script's own process then finds its workers dead.
    assert res.returncode == 1, res
    assert BOOTSTRAP in " ".join(res.stderr.split()), res
    assert res.stdout.count("test_data[0]: img (3, 32, 32)") >= 2, res
    last = res.stderr.strip().splitlines()[-1]
    assert re.match(r"RuntimeError: DataLoader worker \(pid\(s\) [\d, ]+\) exited unexpectedly$", last), res
    assert "epoch 0: " not in res.stdout  # not one batch arrived
    # the copy itself is fine: with forked workers (Linux's default up to Python 3.13) the missing
    # guard goes unnoticed
    if multiprocessing.get_start_method() == "fork":
        forked = run_script(str(Path(res.home) / "01_dataset" / "dataloader.py"), *ARGS)
        assert forked.returncode == 0 and "epoch 1: 2 steps" in forked.stdout, forked
