"""Fixtures only: the helpers they use (and the tests import) are in helpers.py.

``run_script("08_train/train_gpu.py", "--epochs", "1")`` runs a lesson as a new process in a temp folder
that is its lessons home (forked from a process that already imported torch, see launch.py; or a fresh
``python`` where the test needs one).
"""

import pytest

import helpers


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
    """Run a script (path relative to the repo root) as a new process in a temp folder that is its lessons home.
    The process is forked from one that already imported torch (helpers.run_forked): the same script, argv,
    environment and folder, without 3 s of imports per run. A test of the process itself (stdin, a signal
    handler set before the script starts, multiprocessing's spawn, a variable torch reads when imported)
    asks for a fresh `python`: fresh=True."""

    def run(script, *args, fresh=False, **kw):
        if fresh or "input" in kw:
            return helpers.run_fresh(script, args, tmp_path, **kw)
        return helpers.run_forked(script, args, tmp_path, **kw)

    return run


@pytest.fixture
def torch_home(tmp_path):
    """An empty TORCH_HOME, so weights a machine happens to have cached don't change the run."""
    home = tmp_path / "torch_home"
    home.mkdir()
    return home


@pytest.fixture
def attempts(monkeypatch):
    """No network for common.data (helpers.block_network): the list of the download calls made."""
    return helpers.block_network(monkeypatch)
