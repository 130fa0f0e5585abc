"""Issue: every bad image or checkpoint given to predict.py gets one line and exit 2 (or the right result)."""
import io
import os
import pickle
import shlex

import pytest
import torch
from PIL import Image

from common.beyond_course.models import TuduiBN
from common.model import Tudui

from conftest import REPO, as_saved_on_gpu, last_line, one_line_error
from reference import check_prediction

SCRIPT = "09_inference/predict.py"
DOG = REPO / "09_inference" / "imgs" / "dog.png"
SHIPPED = REPO / "09_inference" / "weights" / "tudui_cifar10.pth"


def predicts(res):
    assert res.returncode == 0, res
    assert "Traceback" not in res.stderr, res
    assert last_line(res).startswith("prediction: "), res


# -- images ---------------------------------------------------------------------------------------

def test_image_missing(launch, tmp_path):
    one_line_error(launch(SCRIPT, "--image", tmp_path / "nope.png"), "does not exist")


def test_image_is_a_directory(launch, tmp_path):
    one_line_error(launch(SCRIPT, "--image", tmp_path), "is a folder")


def test_image_is_a_text_file_named_png(launch, tmp_path):
    fake = tmp_path / "cat.png"
    fake.write_text("hello, I am not a picture")
    one_line_error(launch(SCRIPT, "--image", fake), "not an image")


def test_image_truncated_jpeg(launch, tmp_path):
    buf = io.BytesIO()
    Image.open(DOG).convert("RGB").save(buf, format="JPEG", quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    one_line_error(launch(SCRIPT, "--image", cut), "damaged or truncated")


@pytest.mark.parametrize("mode", ["RGBA", "P", "L"])
def test_image_modes_are_converted(launch, tmp_path, mode):
    path = tmp_path / f"dog_{mode}.png"
    Image.open(DOG).convert(mode).save(path)
    res = launch(SCRIPT, "--image", path)
    assert f"(PNG, {mode}, 320x251)" in res.stdout
    # opaque (RGBA), palette (P) or gray (L): the model sees the file's picture made RGB
    check_prediction(res, Image.open(path).convert("RGB"), SHIPPED)


def test_image_huge(launch, tmp_path):
    # 10,000 x 10,000 = 100 megapixels: above PIL's bomb *warning* limit, below its error limit
    big = tmp_path / "huge.jpg"
    Image.open(DOG).convert("RGB").resize((10_000, 10_000), Image.NEAREST).save(big, quality=50)
    res = launch(SCRIPT, "--image", big)
    predicts(res)
    assert "DecompressionBomb" not in res.stderr


def test_image_too_huge_is_refused(launch, tmp_path):
    # a PNG header claiming 20,000 x 20,000 pixels: refused before decoding
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20_000, 20_000)).save(bomb)
    one_line_error(launch(SCRIPT, "--image", bomb), "too large")


# -- checkpoints ----------------------------------------------------------------------------------

def test_checkpoint_missing(launch, tmp_path):
    one_line_error(launch(SCRIPT, "--checkpoint", tmp_path / "tudui_9.pth"), "does not exist")


def test_lesson_07_demo_file_says_what_it_is(launch, tmp_path):
    demo = tmp_path / "tudui_method2.pth"
    conv = torch.nn.Conv2d(3, 64, 3).state_dict()
    torch.save({f"conv1.{k}": v for k, v in conv.items()}, demo)  # 07_save_load's Tudui: one conv1
    one_line_error(launch(SCRIPT, "--checkpoint", demo), "07_save_load's small demo network",
                   "predict.py needs a checkpoint written by 08_train")


def test_checkpoint_random_bytes(launch, tmp_path):
    import random
    rng = random.Random(0)
    for i in range(5):  # random bytes trip the unpickler in different ways; each is one line
        junk = tmp_path / f"junk{i}.pth"
        junk.write_bytes(rng.randbytes(4096) if i else b"")
    for i in range(5):
        one_line_error(launch(SCRIPT, "--checkpoint", tmp_path / f"junk{i}.pth"), "not a PyTorch checkpoint")


def test_checkpoint_of_another_model_names_the_mismatch(launch, tmp_path):
    # weights of a different network labelled as the course's model
    other = tmp_path / "other.pth"
    sd = Tudui().state_dict()
    sd["model.0.weight"] = torch.zeros(16, 3, 5, 5)
    torch.save({"arch": "tudui", "model": sd}, other)
    one_line_error(launch(SCRIPT, "--checkpoint", other), "does not fit Tudui", "model.0.weight",
                   "(16, 3, 5, 5) vs (32, 3, 5, 5)")
    # a bare state_dict of some unknown network
    unknown = tmp_path / "unknown.pth"
    torch.save(torch.nn.Linear(4, 2).state_dict(), unknown)
    one_line_error(launch(SCRIPT, "--checkpoint", unknown), "cannot tell which network these weights belong to")


def test_checkpoint_saved_on_a_gpu_loads_on_cpu(launch, tmp_path):
    """A checkpoint whose tensors were saved from cuda:0 (made by relabelling a CPU file's storages)."""
    cpu_file = tmp_path / "cpu.pth"
    torch.save({"arch": "tudui_bn", "model": TuduiBN().state_dict()}, cpu_file)
    gpu_file = tmp_path / "gpu.pth"
    as_saved_on_gpu(cpu_file, gpu_file)
    if not torch.cuda.is_available():  # the trap map_location avoids
        with pytest.raises(RuntimeError, match="map_location"):
            torch.load(gpu_file, weights_only=True)
    res = launch(SCRIPT, "--checkpoint", gpu_file, "--device", "cpu")
    predicts(res)
    assert "model: arch tudui_bn" in res.stdout


class _Payload:
    """Unpickling this calls os.system(...): the classic malicious-pickle trick."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_malicious_pickle_is_refused_and_never_runs(launch, tmp_path, fmt):
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pth"
    obj = {"arch": "tudui", "model": Tudui().state_dict(), "x": _Payload(marker)}
    if fmt == "zip":
        torch.save(obj, evil)  # what torch.save writes today
    else:
        evil.write_bytes(pickle.dumps({"arch": "tudui", "x": _Payload(marker)}, protocol=2))  # plain pickle
    res = launch(SCRIPT, "--checkpoint", evil)
    one_line_error(res, "refusing to load", "system")
    assert not marker.exists(), "the payload ran!"
    # and the payload is real: plain pickle would have run it
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


def test_course_whole_model_file_with_lzh_name_loads(launch, tmp_path):
    """Note 004 calls the class Lzh and saves it from model.py: the allowlist maps it to Tudui."""
    src = tmp_path / "model.py"
    src.write_text("from common.model import Tudui\nclass Lzh(Tudui):\n    pass\n")
    import subprocess
    import sys
    code = ("import sys, torch; sys.path[:0] = [sys.argv[2], sys.argv[3]]; from model import Lzh; "
            "torch.save(Lzh(), sys.argv[1])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "lzh_9.pth"), str(tmp_path), str(REPO)],
                   check=True, timeout=120)
    res = launch(SCRIPT, "--checkpoint", tmp_path / "lzh_9.pth")
    predicts(res)
    assert "model: arch tudui" in res.stdout
