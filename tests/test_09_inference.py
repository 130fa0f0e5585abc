"""09_inference/predict.py: the notes' validation recipe on dog.png and friends."""
import re
import shutil
import subprocess
import sys

import pytest
import torch
from PIL import Image
from torchvision import transforms

from common.checkpoint import load_checkpoint, model_from_checkpoint
from common.model import CIFAR10_CLASSES
from conftest import REPO, _run, last_line

SCRIPT = "09_inference/predict.py"
DOG = REPO / "09_inference" / "imgs" / "dog.png"
SHIPPED = REPO / "09_inference" / "weights" / "tudui_cifar10.pth"
PRED = re.compile(r"^prediction: (\w+) \((0\.\d{4}|1\.0000)\)$")
TOP = re.compile(r"^  (\w+) +(0\.\d{4}|1\.0000)$", re.M)

# The course's way of saving: torch.save(model) of a class defined in the training script.
COURSE_SAVE = """
import sys, torch
from torch import nn
class Tudui(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(3, 32, 5, 1, 2), nn.MaxPool2d(2), nn.Conv2d(32, 32, 5, 1, 2), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, 1, 2), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 4 * 4, 64),
            nn.Linear(64, 10))
    def forward(self, x):
        return self.model(x)
torch.manual_seed(1)
torch.save(Tudui(), sys.argv[1])
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A lessons home holding one quick train_gpu.py run (its checkpoint is predict's default)."""
    home = tmp_path_factory.mktemp("predict")
    res = _run("08_train/train_gpu.py", ["--offline", "--limit", "200", "--epochs", "1", "--batch-size", "16",
                                         "--device", "cpu"], home)
    assert res.returncode == 0, res
    return home


def expected(image_path, checkpoint):
    """What the recipe should give, computed here independently of the script's printing."""
    model = model_from_checkpoint(load_checkpoint(checkpoint)).eval()
    x = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])(
        Image.open(image_path).convert("RGB")).reshape(1, 3, 32, 32)
    with torch.no_grad():
        probs = torch.softmax(model(x), 1)[0]
    return CIFAR10_CLASSES[probs.argmax().item()], probs


def check_prediction(res, image_path, checkpoint):
    assert res.returncode == 0, res
    assert "Traceback" not in res.stderr
    m = PRED.match(last_line(res))
    assert m, res
    top = TOP.findall(res.stdout)
    assert len(top) == 3 and top[0][0] == m.group(1)
    assert all(name in CIFAR10_CLASSES for name, _ in top)
    assert [float(p) for _, p in top] == sorted((float(p) for _, p in top), reverse=True)
    name, probs = expected(image_path, checkpoint)
    assert m.group(1) == name
    assert float(m.group(2)) == pytest.approx(probs.max().item(), abs=1e-4)
    return m.group(1)


def test_smoke_predict_dog_with_newest_checkpoint(home):
    newest = next((home / "checkpoints" / "train_gpu").rglob("tudui_1.pth"))
    res = _run(SCRIPT, [], home)
    check_prediction(res, DOG, newest)
    assert f"checkpoint: {newest} (the newest in {home / 'checkpoints'})" in res.stdout
    assert "model: arch tudui, epoch 1, test accuracy 0." in res.stdout
    assert f"image: {DOG} (PNG, RGB, 320x251)" in res.stdout


def test_smoke_predict_rgba_and_grayscale(home, tmp_path):
    newest = next((home / "checkpoints" / "train_gpu").rglob("tudui_1.pth"))
    rgba = tmp_path / "dog_rgba.png"
    dog = Image.open(DOG).convert("RGBA")
    dog.putalpha(128)
    dog.save(rgba)
    gray = tmp_path / "dog_gray.jpg"
    Image.open(DOG).convert("L").save(gray)
    for path, mode in ((rgba, "PNG, RGBA"), (gray, "JPEG, L")):
        res = _run(SCRIPT, ["--image", path], home)
        check_prediction(res, path, newest)
        assert f"image: {path} ({mode}, 320x251)" in res.stdout


def test_smoke_predict_course_whole_model_file(run_script, tmp_path):
    course_file = tmp_path / "tudui_9.pth"
    subprocess.run([sys.executable, "-c", COURSE_SAVE, str(course_file)], check=True, timeout=120)
    assert "__main__.Tudui" in torch.serialization.get_unsafe_globals_in_checkpoint(course_file)
    res = run_script(SCRIPT, "--checkpoint", course_file)
    check_prediction(res, DOG, course_file)
    assert "model: arch tudui" in res.stdout


def test_predict_refuses_a_file_with_unknown_classes(run_script, tmp_path):
    bad = tmp_path / "not_a_course_model.pth"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.GELU()), bad)
    res = run_script(SCRIPT, "--checkpoint", bad)
    assert res.returncode == 2
    assert "GELU" in res.stderr and "allowlist" in res.stderr and "Traceback" not in res.stderr


def test_predict_skips_lesson_07_files_and_bad_images(home, tmp_path):
    # a newer, untrained file from 07_save_load must not become the default model
    lesson07 = home / "checkpoints" / "07_save_load"
    lesson07.mkdir(exist_ok=True)
    torch.save(torch.nn.Conv2d(3, 64, 3).state_dict(), lesson07 / "tudui_method2.pth")
    try:
        res = _run(SCRIPT, [], home)
        assert res.returncode == 0, res
        assert "07_save_load" not in res.stdout and "train_gpu" in res.stdout
    finally:
        shutil.rmtree(lesson07)
    not_image = tmp_path / "notes.png"
    not_image.write_text("not a picture")
    res = _run(SCRIPT, ["--image", not_image], home)
    assert res.returncode == 2 and "is not an image PIL can read" in res.stderr


def test_smoke_predict_falls_back_to_the_shipped_model(run_script):
    assert SHIPPED.is_file(), "09_inference/weights/tudui_cifar10.pth must ship with the repo"
    res = run_script(SCRIPT)  # a fresh home: no checkpoints/ of its own
    check_prediction(res, DOG, SHIPPED)
    assert f"checkpoint: {SHIPPED} (shipped" in res.stdout
    ck = torch.load(SHIPPED, weights_only=True)
    assert ck["arch"] == "tudui" and ck["test_accuracy"] > 0.5  # trained on the real CIFAR-10
