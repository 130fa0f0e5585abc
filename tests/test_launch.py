"""tests/launch.py: a run forked from the warm server and a run as a fresh process (the way taken
where there is no os.fork, as on Windows) give a script the same start and return the same result."""

import os

import pytest

from helpers import run_forked

PROBE = """\
import os, sys
print("argv", sys.argv[1:])
print("cwd", os.getcwd())
print("path0", sys.path[0])
print("name", __name__)
print("probe", os.environ.get("LESSONS_PROBE"))
print("读到了 ünïcode", file=sys.stderr)
sys.exit(int(sys.argv[1]))
"""


@pytest.mark.parametrize("way", ["fork", "fresh process"])
def test_a_launched_script_starts_as_python_script_py_would_start_it(way, tmp_path, monkeypatch):
    if way == "fork" and not hasattr(os, "fork"):
        pytest.skip("no os.fork on this system: every launch is a fresh process")
    if way == "fresh process":
        monkeypatch.delattr(os, "fork", raising=False)  # as on Windows
    script = tmp_path / "scripts" / "probe.py"
    script.parent.mkdir()
    script.write_text(PROBE, encoding="utf-8")
    work = tmp_path / "我的 课程"  # the working folder: a space and Chinese characters
    work.mkdir()
    res = run_forked(script, ["3", "two words"], tmp_path, cwd=work, env={"LESSONS_PROBE": "set"})
    assert res.returncode == 3, res
    assert res.lines == [
        f"argv {['3', 'two words']}",
        f"cwd {work}",
        f"path0 {script.parent}",
        "name __main__",
        "probe set",
    ], res
    assert res.stderr == "读到了 ünïcode\n", res
