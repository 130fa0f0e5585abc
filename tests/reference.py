"""What predict.py should answer, computed with plain PyTorch and the course's own definitions.

Nothing from common/ (its checkpoint reader, its model) is used here: the weights are read with
``torch.load(path, weights_only=True)`` into the course's Tudui (defined below from the notes), and
the picture is prepared as the lesson documents it: RGB, Resize((32, 32)), ToTensor.
"""
import re

import pytest
import torch
from PIL import Image
from torchvision import transforms

from conftest import last_line

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# The course's network (P27-P29), as its training script defines it; also written into the files
# that test whole-model saving, so those name __main__.Tudui as the course's do.
COURSE_TUDUI = """
import torch
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
"""
_course = {}
exec(COURSE_TUDUI, _course)
CourseTudui = _course["Tudui"]

PRED = re.compile(r"^prediction: (\w+) \((0\.\d{4}|1\.0000)\)$")
TOP = re.compile(r"^  (\w+) +(0\.\d{4}|1\.0000)$", re.M)


def plain_weights(path):
    """The state_dict in one of our checkpoints ({"model": ...}) or a bare one (保存方式2)."""
    ck = torch.load(path, map_location="cpu", weights_only=True)
    return ck["model"] if "model" in ck else ck


def course_model(weights):
    """The course's Tudui with ``weights`` (a state_dict, or a checkpoint path), in eval mode."""
    model = CourseTudui()
    model.load_state_dict(weights if isinstance(weights, dict) else plain_weights(weights))
    return model.eval()


def prepare(image):
    """A picture (path or PIL image) as the lesson documents it: RGB, Resize((32, 32)), ToTensor, batch of 1."""
    if not isinstance(image, Image.Image):
        image = Image.open(image)
    image = image.convert("RGB")
    return transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])(image).reshape(1, 3, 32, 32)


def probabilities(image, weights):
    with torch.no_grad():
        return torch.softmax(course_model(weights)(prepare(image)), dim=1)[0]


def check_prediction(res, image, weights):
    """predict.py's printed top 3 and prediction are the ones computed here; returns the class."""
    assert res.returncode == 0, res
    assert "Traceback" not in res.stderr, res
    m = PRED.match(last_line(res))
    assert m, res
    probs = probabilities(image, weights)
    top = torch.topk(probs, 3)
    printed = TOP.findall(res.stdout)
    assert [name for name, _ in printed] == [CLASSES[i] for i in top.indices.tolist()], res
    for (_, p), want in zip(printed, top.values.tolist(), strict=True):
        assert float(p) == pytest.approx(want, abs=1e-4 + 1e-6), res
    assert m.group(1) == CLASSES[probs.argmax().item()], res
    assert float(m.group(2)) == pytest.approx(probs.max().item(), abs=1e-4 + 1e-6), res
    return m.group(1)
