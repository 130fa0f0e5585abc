"""Fixtures only: the helpers they use (and the tests import) are in helpers.py.

``run_script("08_train/train_gpu.py", "--epochs", "1")`` runs a lesson as a fresh ``python`` process in a
temp folder that is its lessons home; ``launch(...)`` takes the same arguments and returns the same result,
from a process forked from one that already imported torch (see launch.py), for the many short runs that
check flags and bad input.
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
    """Run a script (path relative to the repo root) as a fresh `python` process in a temp folder."""
    def run(script, *args, **kw):
        return helpers.run_fresh(script, args, tmp_path, **kw)
    return run


@pytest.fixture
def launch(tmp_path):
    """The same as run_script, forked from a process that already imported torch (see launch.py)."""
    def run(script, *args, **kw):
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
