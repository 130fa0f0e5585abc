"""07_save_load: method 1 / method 2, the custom-class trap, weights_only and its safe fix."""

import importlib.util
import pickle
import re

import pytest
import torch
from torch import nn

from helpers import REPO, one_line_error, run_forked

SAVE, LOAD = "07_save_load/model_save.py", "07_save_load/model_load.py"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    home = tmp_path_factory.mktemp("save_load")
    res = run_forked(SAVE, [], home)
    return res, home / "checkpoints" / "07_save_load"


def import_model_save():
    spec = importlib.util.spec_from_file_location("model_save", REPO / SAVE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.xdist_group("save_load")  # shares the module fixture `saved`: one worker, one run
def test_smoke_model_save_writes_both_methods(saved):
    res, folder = saved
    assert res.returncode == 0, res
    m1, m2 = folder / "tudui_method1.pth", folder / "tudui_method2.pth"
    assert m1.is_file() and m2.is_file()
    # sizes printed, and method 1 (weights + pickled structure) is the larger file
    assert re.search(r"method 1 \(whole model\) .*tudui_method1\.pth  \d+\.\d KiB", res.stdout)
    assert m1.stat().st_size > m2.stat().st_size
    assert f"{m1.stat().st_size - m2.stat().st_size:+,} bytes larger" in res.stdout
    # the trap, as in the course, and its fix
    assert "AttributeError: Can't get attribute 'Tudui' on <module '__main__'" in res.stdout
    assert "after `from model_save import Tudui`: loaded a Tudui again" in res.stdout


@pytest.mark.xdist_group("save_load")  # shares the module fixture `saved`: one worker, one run
def test_weights_only_refuses_the_whole_model_and_safe_globals_loads_it(saved):
    _, folder = saved
    m1, m2 = folder / "tudui_method1.pth", folder / "tudui_method2.pth"
    with pytest.raises(pickle.UnpicklingError, match="__main__.Tudui"):
        torch.load(m1)  # torch >= 2.6 default: weights_only=True
    assert sorted(torch.serialization.get_unsafe_globals_in_checkpoint(m1)) == [
        "__main__.Tudui",
        "torch.nn.modules.conv.Conv2d",
    ]
    Tudui = import_model_save().Tudui
    with torch.serialization.safe_globals([(Tudui, "__main__.Tudui"), nn.Conv2d]):
        model = torch.load(m1)
    assert isinstance(model, Tudui)
    state = torch.load(m2)  # method 2 needs no allowlist
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


@pytest.mark.xdist_group("save_load")  # shares the module fixture `saved`: one worker, one run
def test_smoke_model_load_both_methods_identical(saved):
    _, folder = saved
    res = run_forked(LOAD, [], folder.parents[1])
    assert res.returncode == 0, res
    out = res.stdout
    assert (
        "方式1 torch.load(tudui_method1.pth) -> UnpicklingError: Unsupported global: "
        "GLOBAL __main__.Tudui was not an allowed global by default"
    ) in out
    assert "the file names: ['__main__.Tudui', 'torch.nn.modules.conv.Conv2d']" in out
    assert "方式1 with safe_globals: loaded a Tudui" in out
    assert "方式2 torch.load(tudui_method2.pth, map_location='cpu') -> OrderedDict of 2 tensors" in out
    assert "output shape (1, 64, 30, 30), identical outputs: True (max difference 0.0)" in out


def test_importing_model_save_saves_nothing(tmp_path, monkeypatch, capsys):
    # the course's `from model_save import *` re-ran the saving; ours must not
    from common import paths

    monkeypatch.setattr(paths, "SAVE_LOAD_DIR", tmp_path / "07")
    import_model_save()
    assert not (tmp_path / "07").exists()
    assert capsys.readouterr().out == ""


def test_model_load_without_saved_files_is_one_line(run_script):
    line = one_line_error(run_script(LOAD), "not found: run 07_save_load/model_save.py first")  # and in Chinese
    assert line.endswith("not found: run 07_save_load/model_save.py first")


def test_model_load_refuses_a_file_naming_other_classes(run_script, tmp_path):
    folder = tmp_path / "checkpoints" / "07_save_load"
    folder.mkdir(parents=True)
    # a whole model of a class the lesson doesn't expect, put where model_save.py writes
    torch.save(nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU()), folder / "tudui_method1.pth")
    torch.save(nn.Conv2d(3, 64, 3).state_dict(), folder / "tudui_method2.pth")
    one_line_error(
        run_script(LOAD), "which this lesson doesn't expect; not loading it", "torch.nn.modules.activation.ReLU"
    )
