"""Phone and laptop photos (issue 30): upright, any layout, every format, broken files at once, imbalance shown."""

import io
import os
import re
import sys
from pathlib import Path

from common.beyond_course import pictures  # (helpers puts the repository on sys.path)
from common.errors import LessonError
from common.images import heic_reader

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torchvision.models import ResNet18_Weights

from helpers import REPO, last_line, one_line_error, picture, run_forked, shell_split

TRANSFER = "06_pretrained/transfer_learning.py"
PREDICT = "09_inference/predict.py"
ORIENTATION = 0x0112  # the EXIF tag a phone sets on a portrait photo stored sideways


def upright_picture(size=(48, 64)):
    """A picture that is different in every direction: red top, blue bottom, a green square left."""
    img = Image.new("RGB", size, (220, 30, 30))
    img.paste((30, 40, 220), (0, size[1] // 2, size[0], size[1]))
    img.paste((20, 200, 40), (2, 4, size[0] // 3, size[1] // 3))
    return img


def save_sideways(img, path, tag=True, **kw):
    """``img`` stored as a phone stores a portrait photo: pixels turned 90 degrees, and (``tag``) EXIF
    Orientation 6, "turn 90 degrees clockwise to show"."""
    exif = Image.Exif()
    if tag:
        exif[ORIENTATION] = 6
    img.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, **kw)
    return path


def pixels(path, **kw):
    return np.asarray(pictures.load_picture(path, **kw))


def test_a_photo_stored_sideways_with_its_tag_is_read_upright(tmp_path):
    up = upright_picture()
    up.save(tmp_path / "up.png")
    side = save_sideways(up, tmp_path / "side.png")
    assert Image.open(side).size == (64, 48)  # stored sideways
    assert np.array_equal(pixels(side), pixels(tmp_path / "up.png"))
    assert not np.array_equal(np.asarray(Image.open(side).convert("RGB")), pixels(tmp_path / "up.png"))
    # and so in a training set (read through the check's decoded copy)
    for split in ("train", "val"):
        for c in ("a", "b"):
            (tmp_path / "d" / split / c).mkdir(parents=True)
            up.save(tmp_path / "d" / split / c / "up.png")
            save_sideways(up, tmp_path / "d" / split / c / "side.png")
    train, val, _ = pictures.picture_folders(tmp_path / "d", size=(32, 32))
    assert [Path(p).name for p, _ in train.samples[:2]] == ["side.png", "up.png"]
    assert np.array_equal(np.asarray(train[0][0]), np.asarray(train[1][0]))


def _top3(res):
    assert res.returncode == 0, res
    return [float(m) for m in re.findall(r"^  \S+ +(\d\.\d{4})$", res.stdout, re.M)]


def test_predict_gives_a_sideways_photo_the_answer_of_its_upright_copy(run_script, tmp_path):
    dog = Image.open(REPO / "09_inference" / "imgs" / "dog.png").convert("RGB")
    dog.save(tmp_path / "upright.jpg", quality=95)
    save_sideways(dog, tmp_path / "tagged.jpg", quality=95)
    save_sideways(dog, tmp_path / "untagged.jpg", tag=False, quality=95)
    upright, tagged, untagged = (
        _top3(run_script(PREDICT, tmp_path / f"{n}.jpg", "--device", "cpu")) for n in ("upright", "tagged", "untagged")
    )
    assert len(upright) == 3 and np.allclose(upright, tagged, atol=0.02), (upright, tagged)
    # the test can tell: the same pixels without the tag (read sideways) get another answer
    assert not np.allclose(upright, untagged, atol=0.02), (upright, untagged)


def test_a_16_bit_png_reads_as_its_8_bit_copy(tmp_path):
    gray = np.tile(np.arange(256, dtype=np.uint8), (24, 1))
    Image.fromarray(gray).save(tmp_path / "8.png")
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "16.png")  # 0..65535, as a scanner writes it
    assert Image.open(tmp_path / "16.png").mode.startswith("I")
    assert np.array_equal(pixels(tmp_path / "16.png"), pixels(tmp_path / "8.png"))
    assert pixels(tmp_path / "16.png").mean() < 200  # not the pure white picture convert("RGB") gives


def test_every_format_in_any_case_and_loose_pictures_are_named(tmp_path, capsys):
    root = tmp_path / "pics"
    names = ["a.JFIF", "b.jpe", "c.TIF", "d.Tiff", "e.WebP", "f.BMP", "g.gif", "h.JPG", "i.PNG"]
    for c in ("cat", "dog"):
        for n in names:
            picture(root / "train" / c / n, (200, 90, 20), mode="RGB")
        picture(root / "val" / c / "v.jpeg", (20, 90, 200))
    picture(root / "train" / "stray.jpg", (9, 9, 9))
    train, val, classes = pictures.picture_folders(root)
    out = capsys.readouterr().out
    assert len(train) == 18 and len(val) == 2 and classes == ["cat", "dog"]
    assert "1 picture(s) not in a class folder, so not used: train/stray.jpg" in out
    assert "per class (train / val): cat 9 / 1, dog 9 / 1" in out


def test_a_transparent_picture_is_seen_over_white_and_an_opaque_one_as_it_is(tmp_path):
    """load_picture against plain PIL: see-through parts (RGBA, a palette with a transparent color) over a
    white page, as an image viewer shows them; an opaque picture is only made RGB."""
    rgba = picture(tmp_path / "cutout.png", (200, 60, 40), size=(50, 50), mode="RGBA")  # half see-through
    palette = Image.new("P", (20, 10), 0)
    palette.putpalette([0, 0, 0, 30, 90, 200] + [0] * 762)
    palette.paste(1, (0, 0, 10, 10))  # left half blue, right half color 0: black, marked transparent
    palette.save(tmp_path / "sticker.png", transparency=0)
    gray = picture(tmp_path / "gray.jpg", (50, 70, 210), mode="L")
    for path in (rgba, tmp_path / "sticker.png"):
        seen = Image.open(path).convert("RGBA")
        white = Image.new("RGBA", seen.size, (255, 255, 255, 255))
        reference = np.asarray(Image.alpha_composite(white, seen).convert("RGB"))
        assert np.array_equal(pixels(path), reference), path
    assert np.asarray(Image.open(tmp_path / "sticker.png").convert("RGB"))[0, -1].tolist() == [0, 0, 0]  # not white
    assert np.array_equal(pixels(gray), np.asarray(Image.open(gray).convert("RGB")))


@pytest.fixture
def without_pillow_heif(monkeypatch):
    """This Python as if pillow-heif were not installed: its import fails."""
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    heic_reader.cache_clear()
    yield
    heic_reader.cache_clear()


def _heic_bytes():
    """A real HEIC file, or None where pillow-heif (its encoder) is not installed."""
    try:
        import pillow_heif
    except ImportError:
        return None
    buf = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (64, 48), (200, 30, 30))).save(buf, quality=90)
    return buf.getvalue()


def _heic_folder(root, only_heic_class=False):
    blob = _heic_bytes() or b"not readable here anyway"
    for split in ("train", "val"):
        picture(root / split / "cat" / "c.jpg", (20, 90, 200))
        (root / split / "cat" / "IMG_0001.HEIC").write_bytes(blob)
        (root / split / "dog").mkdir(parents=True)
        (root / split / "dog" / "IMG_0002.heic").write_bytes(blob)
        if not only_heic_class:
            picture(root / split / "dog" / "d.jpg", (200, 90, 20))
    return root


def test_heic_photos_are_used_where_pillow_heif_is_installed(tmp_path, capsys):
    pytest.importorskip("pillow_heif")
    heic_reader.cache_clear()
    train, val, _ = pictures.picture_folders(_heic_folder(tmp_path / "pics"))
    assert len(train) == 4 and len(val) == 4 and "HEIC" not in capsys.readouterr().out
    heic = next(p for p, _ in train.samples if p.name == "IMG_0001.HEIC")
    assert pictures.load_picture(heic).size == (64, 48)


def test_heic_photos_are_named_with_the_command_where_pillow_heif_is_missing(tmp_path, capsys, without_pillow_heif):
    train, val, _ = pictures.picture_folders(_heic_folder(tmp_path / "pics"))
    out = capsys.readouterr().out
    assert len(train) == 2 and len(val) == 2
    note = next(line for line in out.splitlines() if "HEIC" in line)
    assert "4 HEIC photo(s)" in note and "train/cat/IMG_0001.HEIC" in note and "pip install pillow-heif" in note
    # a class of only HEIC photos is not "no pictures": the command is named
    with pytest.raises(LessonError, match=r"has only HEIC photos .*IMG_0002\.heic.*pip install pillow-heif"):
        pictures.picture_folders(_heic_folder(tmp_path / "only", only_heic_class=True))


def _truncated_jpeg(path):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(buf, format="JPEG")
    path.write_bytes(buf.getvalue()[:300])


def test_all_broken_files_are_named_in_one_line_before_anything_is_written(run_script, tmp_path):
    root = tmp_path / "my photos"
    for split in ("train", "val"):
        for c in ("cat", "dog"):
            picture(root / split / c / "ok.jpg", (90, 90, 90))
    _truncated_jpeg(root / "train" / "cat" / "cut.jpg")
    (root / "train" / "dog" / "text.png").write_text("not a picture")
    (root / "val" / "dog" / "empty.jpg").write_bytes(b"")
    res = run_script(TRANSFER, "--data-root", root, "--offline", "--epochs", "1")
    line = one_line_error(
        res,
        "3 picture(s) cannot be read",
        "train/cat/cut.jpg",
        "train/dog/text.png",
        "val/dog/empty.jpg",
        "nothing was trained or written",
    )
    assert "more" not in line
    assert not (tmp_path / "logs").exists() and not (tmp_path / "checkpoints").exists()
    for k in range(4):  # over SHOWN (5): the first five named, then a count
        (root / "val" / "cat" / f"bad{k}.jpg").write_text("no")
    with pytest.raises(LessonError, match=r"7 picture\(s\) cannot be read: .* and 2 more \("):
        pictures.picture_folders(root)


def _snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_a_class_folder_layout_is_split_for_you_and_never_downloads_cifar10(run_script, tmp_path):
    root = tmp_path / "我的 照片"
    for k in range(10):
        picture(root / "猫" / f"{k}.jpg", (40, 180, 60), size=(40 + k, 30))
        picture(root / "狗" / f"{k}.png", (200, 60, 40), size=(30, 40 + k))
    before = _snapshot(root)
    # no --offline: with a network this used to download cifar-10-python.tar.gz into the folder
    res = run_script("08_train/train_gpu.py", "--data-root", root, "--epochs", "1", "--batch-size", "4")
    assert res.returncode == 0, res
    assert "CIFAR" not in res.stdout and _snapshot(root) == before  # your folder is not changed
    assert (
        f"data: {root} has class folders but no train/ and val/: each class is split 80% train / 20% val "
        "(--val-fraction 0.2), the same split every run; your folder is not changed"
    ) in res.stdout
    assert "16 train / 4 val pictures, 2 classes (狗, 猫)" in res.stdout
    assert "per class (train / val): 狗 8 / 2, 猫 8 / 2" in res.stdout
    assert re.search(
        r"^tudui: val accuracy per class: 狗 \d\.\d{4} \(\d/2\), 猫 \d\.\d{4} \(\d/2\); mean over "
        r"classes \d\.\d{4}$",
        res.stdout,
        re.M,
    ), res
    # the last lines: the command for predict.py with the model just saved, pasteable from here
    hint = next(line for line in res.lines if line.startswith("next, the model on a picture: "))
    words = shell_split(hint.split(": ", 1)[1])
    assert words[:2] == ["python", os.path.relpath(REPO / PREDICT, tmp_path)] and words[3] == "--checkpoint"
    assert Path(words[2]).parent.parent == root and Path(words[4]).name == "tudui_1.pth"
    out = run_forked(tmp_path / words[1], words[2:], tmp_path)
    assert re.fullmatch(r"prediction: (狗|猫) \(\d\.\d{4}\)", last_line(out)), out
    # the split is the same every run, and --val-fraction changes it
    a, b = pictures.picture_folders(root)[0], pictures.picture_folders(root)[0]
    assert a.samples == b.samples and len(pictures.picture_folders(root, val_fraction=0.5)[0]) == 10


def test_what_data_root_holds(tmp_path):
    (tmp_path / "empty").mkdir()
    assert pictures.is_cifar10(tmp_path / "empty")  # CIFAR-10 is downloaded there, as before
    picture(tmp_path / "mine" / "cat" / "1.jpg", (1, 2, 3))
    assert not pictures.is_cifar10(tmp_path / "mine")
    for c in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"):
        (tmp_path / "cifar" / "train" / c).mkdir(parents=True)
    assert pictures.is_cifar10(tmp_path / "cifar")


def test_class_weights_count_each_class_the_same():
    w = pictures.class_weights([0] * 6 + [1] * 2, 2)
    assert torch.allclose(w, torch.tensor([8 / 12, 8 / 4]))
    assert torch.allclose(w * torch.tensor([6.0, 2.0]), torch.tensor([4.0, 4.0]))


@pytest.fixture(scope="module")
def unbalanced(tmp_path_factory):
    """40 cats and 4 dogs to train on, 10 of each in val: the feature way, quick, offline."""
    home = tmp_path_factory.mktemp("unbalanced")
    root = home / "pets"
    rng = np.random.default_rng(0)
    for split, counts in (("train", {"cat": 40, "dog": 4}), ("val", {"cat": 10, "dog": 10})):
        for c, n in counts.items():
            for k in range(n):
                base = (170, 120, 60) if c == "cat" else (150, 130, 90)
                noisy = np.clip(np.array(base) + rng.integers(-40, 41, 3), 0, 255)
                picture(root / split / c / f"{k}.jpg", tuple(int(v) for v in noisy))
    res = run_forked(
        TRANSFER,
        ["--data-root", root, "--offline", "--ways", "feature", "scratch", "--epochs", "1", "--device", "cpu"],
        home,
        env={"TORCH_HOME": str(home / "th")},
    )
    assert res.returncode == 0, res
    return home, root, res


@pytest.mark.xdist_group("unbalanced")
def test_an_unbalanced_folder_shows_counts_per_class_accuracy_and_the_baseline(unbalanced):
    home, root, res = unbalanced
    assert (
        "per class (train / val): cat 40 / 10, dog 4 / 10 -- unbalanced: 10x more cat than dog in train" in res.stdout
    )
    assert re.search(r"^baseline +- \(always answers cat, the biggest class\) +0\.5000$", res.stdout, re.M), res
    for way in ("feature", "scratch"):
        m = re.search(
            rf"^{way}: val accuracy per class: cat (\d\.\d{{4}}) \((\d+)/10\), dog (\d\.\d{{4}}) "
            rf"\((\d+)/10\); mean over classes (\d\.\d{{4}})$",
            res.stdout,
            re.M,
        )
        assert m, res
        acc = (int(m[2]) + int(m[4])) / 20
        assert float(m[5]) == pytest.approx((int(m[2]) + int(m[4])) / 20, abs=1e-4)
        warned = re.search(
            rf"^{way}: val accuracy {acc:.4f} does not beat always answering cat \(0\.5000, the "
            r"biggest class in train\).*--balance",
            res.stdout,
            re.M,
        )
        assert bool(warned) == (acc <= 0.5), res
    assert re.match(r"^final val accuracy: (0\.\d{4}|1\.0000)$", last_line(res)), res


@pytest.mark.xdist_group("unbalanced")
def test_each_way_has_a_confusion_matrix_in_tensorboard(unbalanced):
    home, _, _ = unbalanced
    run = next((home / "logs" / "transfer_learning").iterdir())
    for way in ("feature", "scratch"):
        acc = EventAccumulator(str(run / way), size_guidance={"images": 0})
        acc.Reload()
        assert "confusion_matrix" in acc.Tags()["images"] and "val_accuracy" in acc.Tags()["scalars"]
        img = acc.Images("confusion_matrix")[0]
        assert img.width > 100 and img.height > 100


@pytest.mark.xdist_group("unbalanced")
def test_balance_weighs_the_loss_by_class(unbalanced, run_script):
    home, root, _ = unbalanced
    res = run_script(
        TRANSFER,
        "--data-root",
        root,
        "--offline",
        "--ways",
        "feature",
        "--epochs",
        "1",
        "--balance",
        "--device",
        "cpu",
        env={"TORCH_HOME": str(home / "th")},
    )
    assert res.returncode == 0, res
    ck = torch.load(next((res.home / "checkpoints").rglob("feature_tudui_1.pth")), weights_only=True)
    assert ck["settings"]["balance"] is True and "val_accuracy" in ck


WEIGHTS_FILE = ResNet18_Weights.DEFAULT.url.rsplit("/", 1)[-1]
# transfer_learning.py as run with a network: torch.hub "downloads" the weights (a copy of a local file,
# after printing its own "Downloading:" line), and the server answers the probe
DOWNLOADER = """
import runpy, shutil, sys, torch.hub
sys.path.insert(0, {repo!r})
from common.beyond_course import download
download._probe = lambda url, seconds: None
torch.hub.download_url_to_file = lambda url, dst, *a, **k: shutil.copyfile({source!r}, dst)
sys.argv = [{script!r}, *sys.argv[1:]]
runpy.run_path({script!r}, run_name="__main__")
"""


def test_the_weights_message_says_whether_they_were_downloaded(tmp_path):
    torch.manual_seed(0)
    source = tmp_path / "weights.pth"
    torch.save(torchvision.models.resnet18().state_dict(), source)
    wrapper = tmp_path / "with_network.py"
    wrapper.write_text(DOWNLOADER.format(repo=str(REPO), source=str(source), script=str(REPO / TRANSFER)))
    folder = tmp_path / "pics"
    for split in ("train", "val"):
        for c in ("a", "b"):
            picture(folder / split / c / "1.jpg", (90, 20 * len(c), 9))
    args = ["--data-root", folder, "--ways", "feature", "--epochs", "1", "--image-size", "32", "--device", "cpu"]
    env = {"TORCH_HOME": str(tmp_path / "th")}
    first = run_forked(wrapper, args, tmp_path, env=env)
    assert first.returncode == 0, first
    assert "Downloading:" in first.stdout + first.stderr  # torch.hub's own line
    line = next(line for line in first.lines if line.startswith("pretrained: "))
    assert line.endswith("(downloaded now; cached for next time)") and "already cached" not in line
    second = run_forked(wrapper, args, tmp_path, env=env)  # the file is in the cache now
    assert second.returncode == 0, second
    assert "Downloading:" not in second.stdout + second.stderr
    assert next(line for line in second.lines if line.startswith("pretrained: ")).endswith(
        f"{tmp_path / 'th' / 'hub' / 'checkpoints' / WEIGHTS_FILE} (already cached: no download)"
    )


def test_a_model_that_only_ties_the_biggest_class_is_warned_about():
    # 70 ants and 83 bees in val, ants the biggest class in train: always "ants" scores 70/153, a tie
    truth, preds = [0] * 70 + [1] * 83, [0] * 153
    lines = pictures.per_class_lines("scratch", preds, truth, ["ants", "bees"], [0] * 124 + [1] * 12, "try --balance")
    assert lines[0] == (
        "scratch: val accuracy per class: ants 1.0000 (70/70), bees 0.0000 (0/83); mean over classes 0.5000"
    )
    assert len(lines) == 2 and lines[1].startswith(
        "scratch: val accuracy 0.4575 does not beat always answering ants (0.4575, the biggest class in train)"
    )
    better = [0] * 70 + [1] + [0] * 82  # one bee right
    assert len(pictures.per_class_lines("scratch", better, truth, ["ants", "bees"], [0] * 124 + [1] * 12, "")) == 1
