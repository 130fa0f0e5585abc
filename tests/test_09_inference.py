"""09_inference/predict.py: the notes' validation recipe on dog.png and friends, the checkpoint it picks;
every bad picture or checkpoint gets one line and exit 2 (or the right result)."""

import io
import os
import pickle
import re
import shlex
import shutil
import time

from common.beyond_course.models import TuduiBN
from common.images import heic_reader
from common.model import Tudui

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from helpers import (
    CIFAR10_ORDER,
    COURSE_TUDUI,
    REPO,
    as_saved_on_gpu,
    check_prediction,
    course_model,
    last_line,
    one_line_error,
    plain_weights,
    probabilities,
    run_forked,
    shell_split,
)

SCRIPT = "09_inference/predict.py"
DOG = REPO / "09_inference" / "imgs" / "dog.png"
SHIPPED = REPO / "09_inference" / "weights" / "tudui_cifar10.pth"
SAMPLE_TEST = REPO / "01_dataset" / "samples" / "cifar10" / "test"

# The course's way of saving: torch.save(model) of the class defined in the training script
# (here given the shipped model's weights, so the answer can be compared with the shipped file's).
COURSE_SAVE = (
    COURSE_TUDUI
    + """
import sys
model = Tudui()
model.load_state_dict(torch.load(sys.argv[1], weights_only=True)["model"])
torch.save(model, sys.argv[2])
"""
)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A lessons home holding one quick train_gpu.py run on the bundled sample."""
    home = tmp_path_factory.mktemp("predict")
    res = run_forked(
        "08_train/train_gpu.py",
        ["--offline", "--limit", "64", "--epochs", "1", "--batch-size", "16", "--device", "cpu"],
        home,
    )
    assert res.returncode == 0, res
    return home


def sample_run(home):
    return next((home / "checkpoints" / "train_gpu").rglob("tudui_1.pth"))


@pytest.mark.xdist_group("predict")  # shares the module fixture `home`: one worker, one run
def test_smoke_predict_dog_skips_a_sample_run_for_the_shipped_model(home):
    # the newest checkpoint was trained on 64 images of the bundled sample: it is named, not used
    newest = sample_run(home)
    res = run_forked(SCRIPT, [], home)
    check_prediction(res, DOG, SHIPPED)
    assert f"checkpoint: {SHIPPED} (shipped with the lessons, trained on the full CIFAR-10)" in res.stdout
    # the opening: one short line, the file named once, in the hint that uses it
    assert res.lines[0].startswith("note: your newest checkpoint was trained on the bundled sample (test accuracy 0.")
    hint = re.search(r": pass (--checkpoint .+) to use it$", res.lines[0]).group(1)
    assert shell_split(hint) == ["--checkpoint", str(newest)]  # pastes back as one argument, whatever the path
    assert res.stdout.count(str(newest)) == 1
    assert "model: arch tudui, epoch 10, test accuracy 0.5763" in res.stdout
    assert f"image: {DOG} (PNG, RGB, 320x251)" in res.stdout
    assert re.match(r"prediction: cat \(0\.49\d\d\)$", res.lines[-1]), res  # as README says


@pytest.mark.xdist_group("predict")  # shares the module fixture `home`: one worker, one run
def test_predict_takes_the_newest_full_cifar10_checkpoint(home, run_script, tmp_path):
    # a model trained on the full set (here: the shipped one, copied into a run folder) wins over
    # both the shipped file and a newer run on the bundled sample
    full = home / "checkpoints" / "train_gpu" / "00000000-000000" / "tudui_10.pth"
    full.parent.mkdir(parents=True)
    shutil.copy(SHIPPED, full)
    try:
        newer = sample_run(home)
        now = time.time()
        os.utime(full, (now - 60, now - 60))
        os.utime(newer, (now, now))  # the sample run is the newest file
        res = run_script(SCRIPT, env={"PYTORCH_LESSONS_HOME": str(home)})
        check_prediction(res, DOG, full)
        assert f"checkpoint: {full} (the newest trained on the full CIFAR-10 (test accuracy 0.5763))" in res.stdout
        assert "your newest checkpoint was trained on the bundled sample (test accuracy 0." in res.stdout
        hint = re.search(r": pass (--checkpoint .+) to use it$", res.stdout, re.M).group(1)
        assert shell_split(hint) == ["--checkpoint", str(newer)]  # pastes back as one argument, whatever the path
        # --checkpoint always wins, and the picture may come without --image
        res = run_script(SCRIPT, DOG, "--checkpoint", newer, env={"PYTORCH_LESSONS_HOME": str(home)})
        check_prediction(res, DOG, newer)
        assert f"checkpoint: {newer} (--checkpoint)" in res.stdout and "note:" not in res.stdout
    finally:
        shutil.rmtree(full.parent)


def test_predict_transparent_png_is_seen_over_white(run_script, tmp_path):
    dog = Image.open(DOG).convert("RGBA")
    alpha = Image.new("L", dog.size, 0)
    alpha.paste(255, (80, 40, 240, 220))  # only the middle is opaque; the rest transparent
    dog.putalpha(alpha)
    rgba = tmp_path / "dog_cutout.png"
    dog.save(rgba)
    res = run_script(SCRIPT, rgba)
    assert f"image: {rgba} (PNG, RGBA, 320x251)" in res.stdout
    assert "transparent parts: shown over white, as an image viewer does" in res.stdout
    white = Image.new("RGBA", dog.size, (255, 255, 255, 255))
    check_prediction(res, Image.alpha_composite(white, dog).convert("RGB"), SHIPPED)


def test_predict_grayscale_and_huge_pictures(run_script, tmp_path):
    gray = tmp_path / "dog_gray.jpg"
    Image.open(DOG).convert("L").save(gray)
    res = run_script(SCRIPT, "--image", gray)
    check_prediction(res, gray, SHIPPED)
    assert f"image: {gray} (JPEG, L, 320x251)" in res.stdout
    big = tmp_path / "huge.jpg"  # decoded at a reduced scale, but its real size is what is reported
    Image.open(DOG).convert("RGB").resize((6000, 4000), Image.NEAREST).save(big, quality=50)
    res = run_script(SCRIPT, big)
    assert res.returncode == 0, res
    assert f"image: {big} (JPEG, RGB, 6000x4000)" in res.stdout


def test_predict_reads_a_course_whole_model_file(run_script, tmp_path):
    # 保存方式1 as the course does it, from its training script (so the file names __main__.Tudui),
    # holding the shipped weights; and 保存方式2, the same weights as a bare state_dict
    saver, whole, bare = tmp_path / "train.py", tmp_path / "tudui_9.pth", tmp_path / "tudui_9_state.pth"
    saver.write_text(COURSE_SAVE)
    assert run_script(saver, SHIPPED, whole).returncode == 0
    assert "__main__.Tudui" in torch.serialization.get_unsafe_globals_in_checkpoint(whole)
    weights = plain_weights(SHIPPED)
    torch.save(weights, bare)
    answers = []
    for path in (whole, bare):
        res = run_script(SCRIPT, "--checkpoint", path)
        check_prediction(res, DOG, weights)
        assert "model: arch tudui" in res.stdout
        answers.append(res.stdout[res.stdout.index("top 3:") :])
    assert answers[0] == answers[1]  # the same model, whichever way it was saved


def test_predict_refuses_a_file_with_unknown_classes(run_script, tmp_path):
    bad = tmp_path / "not_a_course_model.pth"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.GELU()), bad)
    one_line_error(run_script(SCRIPT, "--checkpoint", bad), "GELU", "allowlist")


@pytest.mark.xdist_group("predict")  # shares the module fixture `home`: one worker, one run
def test_predict_never_picks_lesson_07_files(home, run_script):
    # a newer, untrained file from 07_save_load must not become the default model
    lesson07 = home / "checkpoints" / "07_save_load"
    lesson07.mkdir(exist_ok=True)
    torch.save(torch.nn.Conv2d(3, 64, 3).state_dict(), lesson07 / "tudui_method2.pth")
    try:
        res = run_script(SCRIPT, env={"PYTORCH_LESSONS_HOME": str(home)})
        assert res.returncode == 0, res
        assert "07_save_load" not in res.stdout
    finally:
        shutil.rmtree(lesson07)


def test_shipped_model_records_what_it_was_trained_on():
    ck = torch.load(SHIPPED, weights_only=True)
    assert ck["arch"] == "tudui" and ck["test_accuracy"] > 0.5  # trained on the real CIFAR-10
    assert ck["data"] == {"kind": "full", "images": 50000}


def test_shipped_model_is_evaluated_on_the_bundled_test_pictures():
    """The shipped weights, run by the course's own network on the 500 bundled test pictures
    (plain ImageFolder + ToTensor): a 58% model on CIFAR-10 scores 0.544 here, chance is 0.10."""
    model = course_model(SHIPPED)
    test = datasets.ImageFolder(str(SAMPLE_TEST), transform=transforms.ToTensor())
    assert test.classes == CIFAR10_ORDER and len(test) == 500
    images, labels = next(iter(DataLoader(test, batch_size=len(test))))
    with torch.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    assert accuracy >= 0.45, accuracy
    # README: 'on dog.png it says cat (0.49) with dog (0.44) second'
    probs = probabilities(DOG, SHIPPED)
    top = torch.topk(probs, 2)
    assert [CIFAR10_ORDER[i] for i in top.indices.tolist()] == ["cat", "dog"]
    assert [f"{p:.2f}" for p in top.values.tolist()] == ["0.49", "0.44"]


def test_predict_a_folder_answers_each_picture_as_the_course_s_model_does(run_script, tmp_path):
    """A folder: one line per picture, with the class and probability the course's Tudui gives it (plain
    torch.load, Resize((32, 32)), ToTensor); files that are not pictures are counted, the first named; a HEIC photo
    is used where pillow-heif is installed, else named with the command; then the count per class."""
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(DOG, folder / "dog.png")
    for name in ("cat", "ship", "truck"):
        shutil.copy(next((SAMPLE_TEST / name).iterdir()), folder / f"{name}.png")
    for name in ("notes.txt", "train.log"):  # not pictures
        (folder / name).write_text("not a picture")
    heic = folder / "IMG_0001.HEIC"
    if heic_reader():  # an iPhone photo of the dog
        import pillow_heif

        pillow_heif.from_pillow(Image.open(DOG).convert("RGB")).save(heic, quality=95)
    else:
        heic.write_bytes(b"a HEIC photo this Python cannot read")
    res = run_script(SCRIPT, folder)
    assert res.returncode == 0, res
    answers = dict(re.findall(r"^(\S+): (\w+ \(\d\.\d{4}\))$", res.stdout, re.M))
    readable = sorted(f for f in folder.iterdir() if f.suffix == ".png" or heic_reader() and f == heic)
    assert sorted(answers) == [f.name for f in readable], res
    counts = dict.fromkeys(CIFAR10_ORDER, 0)
    for f in readable:
        probs = probabilities(f, SHIPPED)
        name, prob = answers[f.name].split()
        assert name == CIFAR10_ORDER[probs.argmax().item()], (f, res)
        assert float(prob.strip("()")) == pytest.approx(probs.max().item(), abs=1e-4 + 1e-6), (f, res)
        counts[name] += 1
    assert "skipped 2 file(s) that are not pictures, e.g. notes.txt" in res.stdout
    assert ("HEIC photo(s)" in res.stdout) == (not heic_reader()), res  # the note only where it was skipped
    assert "image: " not in res.stdout  # one line per picture: not the single picture's "image: ..." line
    assert last_line(res) == "counts: " + ", ".join(f"{name} {n}" for name, n in counts.items())


def test_predict_offers_only_the_flags_it_uses(run_script):
    res = run_script(SCRIPT, "--help")
    assert res.returncode == 0, res
    flags = set(re.findall(r"(?<![\w-])--[a-z][\w-]*", res.stdout))
    assert {"--checkpoint", "--image", "--device"} <= flags
    assert "--logdir" not in flags  # predict.py writes no TensorBoard logs: no flag that does nothing


def test_a_folder_without_pictures_is_one_line(run_script, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a picture")
    one_line_error(run_script(SCRIPT, tmp_path / "empty"), "is a folder with no pictures in it (.jpg, .png, ...)")


# -- bad pictures and checkpoints ------------------------------------------------------------------


def predicts(res):
    assert res.returncode == 0, res
    assert "Traceback" not in res.stderr, res
    assert last_line(res).startswith("prediction: "), res


# -- images ---------------------------------------------------------------------------------------


def test_image_missing(run_script, tmp_path):
    one_line_error(run_script(SCRIPT, "--image", tmp_path / "nope.png"), "does not exist")


def test_image_is_a_directory(run_script, tmp_path):
    one_line_error(run_script(SCRIPT, "--image", tmp_path), "is a folder")


def test_image_is_a_text_file_named_png(run_script, tmp_path):
    fake = tmp_path / "cat.png"
    fake.write_text("hello, I am not a picture")
    one_line_error(run_script(SCRIPT, "--image", fake), "not an image")


def test_image_truncated_jpeg(run_script, tmp_path):
    buf = io.BytesIO()
    Image.open(DOG).convert("RGB").save(buf, format="JPEG", quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    one_line_error(run_script(SCRIPT, "--image", cut), "damaged or truncated")


@pytest.mark.parametrize("mode", ["RGBA", "P", "L"])
def test_image_modes_are_converted(run_script, tmp_path, mode):
    path = tmp_path / f"dog_{mode}.png"
    Image.open(DOG).convert(mode).save(path)
    res = run_script(SCRIPT, "--image", path)
    assert f"(PNG, {mode}, 320x251)" in res.stdout
    # opaque (RGBA), palette (P) or gray (L): the model sees the file's picture made RGB
    check_prediction(res, Image.open(path).convert("RGB"), SHIPPED)


def test_image_huge(run_script, tmp_path):
    # 10,000 x 10,000 = 100 megapixels: above PIL's bomb *warning* limit, below its error limit
    big = tmp_path / "huge.jpg"
    Image.open(DOG).convert("RGB").resize((10_000, 10_000), Image.NEAREST).save(big, quality=50)
    res = run_script(SCRIPT, "--image", big)
    predicts(res)
    assert "DecompressionBomb" not in res.stderr


def test_image_too_huge_is_refused(run_script, tmp_path):
    # a PNG header claiming 20,000 x 20,000 pixels: refused before decoding
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20_000, 20_000)).save(bomb)
    one_line_error(run_script(SCRIPT, "--image", bomb), "too large")


# -- checkpoints ----------------------------------------------------------------------------------


def test_checkpoint_missing(run_script, tmp_path):
    one_line_error(run_script(SCRIPT, "--checkpoint", tmp_path / "tudui_9.pth"), "does not exist")


def test_lesson_07_demo_file_says_what_it_is(run_script, tmp_path):
    demo = tmp_path / "tudui_method2.pth"
    conv = torch.nn.Conv2d(3, 64, 3).state_dict()
    torch.save({f"conv1.{k}": v for k, v in conv.items()}, demo)  # 07_save_load's Tudui: one conv1
    one_line_error(
        run_script(SCRIPT, "--checkpoint", demo),
        "07_save_load's small demo network",
        "predict.py needs a checkpoint written by 08_train",
    )


def test_checkpoint_random_bytes(run_script, tmp_path):
    import random

    rng = random.Random(0)
    for i in range(5):  # random bytes trip the unpickler in different ways; each is one line
        junk = tmp_path / f"junk{i}.pth"
        junk.write_bytes(rng.randbytes(4096) if i else b"")
    for i in range(5):
        one_line_error(run_script(SCRIPT, "--checkpoint", tmp_path / f"junk{i}.pth"), "not a PyTorch checkpoint")


def test_checkpoint_of_another_model_names_the_mismatch(run_script, tmp_path):
    # weights of a different network labelled as the course's model
    other = tmp_path / "other.pth"
    sd = Tudui().state_dict()
    sd["model.0.weight"] = torch.zeros(16, 3, 5, 5)
    torch.save({"arch": "tudui", "model": sd}, other)
    one_line_error(
        run_script(SCRIPT, "--checkpoint", other),
        "does not fit Tudui",
        "model.0.weight",
        "(16, 3, 5, 5) vs (32, 3, 5, 5)",
    )
    # a bare state_dict of some unknown network
    unknown = tmp_path / "unknown.pth"
    torch.save(torch.nn.Linear(4, 2).state_dict(), unknown)
    one_line_error(run_script(SCRIPT, "--checkpoint", unknown), "cannot tell which network these weights belong to")


def test_checkpoint_saved_on_a_gpu_loads_on_cpu(run_script, tmp_path):
    """A checkpoint whose tensors were saved from cuda:0 (made by relabelling a CPU file's storages)."""
    cpu_file = tmp_path / "cpu.pth"
    torch.save({"arch": "tudui_bn", "model": TuduiBN().state_dict()}, cpu_file)
    gpu_file = tmp_path / "gpu.pth"
    as_saved_on_gpu(cpu_file, gpu_file)
    if not torch.cuda.is_available():  # the trap map_location avoids
        with pytest.raises(RuntimeError, match="map_location"):
            torch.load(gpu_file, weights_only=True)
    res = run_script(SCRIPT, "--checkpoint", gpu_file, "--device", "cpu")
    predicts(res)
    assert "model: arch tudui_bn" in res.stdout


class _Payload:
    """Unpickling this calls os.system(...): the classic malicious-pickle trick."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_malicious_pickle_is_refused_and_never_runs(run_script, tmp_path, fmt):
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pth"
    obj = {"arch": "tudui", "model": Tudui().state_dict(), "x": _Payload(marker)}
    if fmt == "zip":
        torch.save(obj, evil)  # what torch.save writes today
    else:
        evil.write_bytes(pickle.dumps({"arch": "tudui", "x": _Payload(marker)}, protocol=2))  # plain pickle
    res = run_script(SCRIPT, "--checkpoint", evil)
    one_line_error(res, "refusing to load", f"it names {os.system.__module__}.system, which")  # the name only
    assert not marker.exists(), "the payload ran!"
    # and the payload is real: plain pickle would have run it
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


def test_course_whole_model_file_with_lzh_name_loads(run_script, tmp_path):
    """Note 004 calls the class Lzh and saves it from model.py: the allowlist maps it to Tudui."""
    src = tmp_path / "model.py"
    src.write_text("from common.model import Tudui\nclass Lzh(Tudui):\n    pass\n")
    saver = tmp_path / "save_lzh.py"  # run as a script next to model.py: the file names model.Lzh
    saver.write_text(
        "import sys, torch\nsys.path.append(sys.argv[2])\nfrom model import Lzh\ntorch.save(Lzh(), sys.argv[1])\n"
    )
    assert run_script(saver, tmp_path / "lzh_9.pth", REPO).returncode == 0
    assert "model.Lzh" in torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "lzh_9.pth")
    res = run_script(SCRIPT, "--checkpoint", tmp_path / "lzh_9.pth")
    predicts(res)
    assert "model: arch tudui" in res.stdout
