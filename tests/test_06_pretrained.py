"""06_pretrained: VGG16 with and without ImageNet weights, the two classifier edits, the hub cache."""
import re

import pytest

SCRIPT = "06_pretrained/model_pretrained.py"


@pytest.fixture
def torch_home(tmp_path):
    """An empty TORCH_HOME, so weights a machine happens to have cached don't change the run."""
    home = tmp_path / "torch_home"
    home.mkdir()
    return home


def test_smoke_model_pretrained_offline_edits(run_script, torch_home):
    res = run_script(SCRIPT, "--offline", env={"TORCH_HOME": str(torch_home)})
    assert res.returncode == 0, res
    assert "Traceback" not in res.stderr
    out = res.stdout
    # where weights are cached follows TORCH_HOME
    assert f"torch.hub.get_dir(): {torch_home / 'hub'}" in out
    # pretrained=True/False explained with today's spelling
    assert "equivalent to passing `weights=None`" in out
    assert "VGG16_Weights.DEFAULT is VGG16_Weights.IMAGENET1K_V1" in out
    # offline: exactly one line saying what to download and where, then weights=None
    notes = [line for line in res.lines if "ImageNet weights" in line]
    assert len(notes) == 1, out
    assert notes[0].startswith("VGG16's ImageNet weights: not on disk (--offline) -> random weights")
    assert "https://download.pytorch.org/models/vgg16-397923af.pth" in notes[0]
    assert str(torch_home / "hub" / "checkpoints" / "vgg16-397923af.pth") in notes[0]
    assert "weights=None" in notes[0]
    assert "138,357,544 parameters" in out
    assert "before the edits: output shape (1, 1000)" in out
    # edit 1: a Linear(1000 -> 10) appended inside classifier, after the original 4096 -> 1000
    edit1 = out.split("edit 1: vgg16_true.classifier.add_module")[1].split("edit 2:")[0]
    assert "(6): Linear(in_features=4096, out_features=1000, bias=True)" in edit1
    assert "(add_linear): Linear(in_features=1000, out_features=10, bias=True)" in edit1
    assert "edit 1: output shape (1, 10)" in out
    # edit 2: classifier[6] replaced by 4096 -> 10, nothing appended
    edit2 = out.split("edit 2: vgg16_false.classifier[6]")[1]
    assert "(6): Linear(in_features=4096, out_features=10, bias=True)" in edit2
    assert "add_linear" not in edit2
    assert "edit 2: output shape (1, 10)" in out
    # only the changed part is printed after each edit, not the 40-line features block again
    assert out.count("(features): Sequential(") == 1


def test_model_pretrained_damaged_cache_is_one_line(launch, torch_home, tmp_path):
    hub = tmp_path / "my_hub"  # --hub-dir = torch.hub.set_dir
    (hub / "checkpoints").mkdir(parents=True)
    bad = hub / "checkpoints" / "vgg16-397923af.pth"
    bad.write_bytes(b"not a weights file")
    res = launch(SCRIPT, "--offline", "--hub-dir", hub, env={"TORCH_HOME": str(torch_home)})
    assert res.returncode == 0, res
    assert "Traceback" not in res.stderr
    assert f"torch.hub.get_dir(): {hub}" in res.stdout
    notes = [line for line in res.lines if line.startswith(f"{bad} ")]
    assert len(notes) == 1 and str(bad) in notes[0] and "not a usable VGG16 weights file" in notes[0]
    assert re.search(r"^edit 2: output shape \(1, 10\)$", res.stdout, re.M)
