"""Your own pictures as a dataset: ``DIR/train/<class>/*`` and ``DIR/val/<class>/*``, checked first.

This is torchvision's ImageFolder layout: one folder per class, the folder's
name is the class name (any language: ``猫/``, ``狗/``), labels numbered in
the names' sorted order. ``picture_folders(DIR)`` checks the whole folder
before anything trains or is written, so every problem is one line:

* ``DIR/train/`` and ``DIR/val/`` (or ``DIR/test/``) with the same 2+ classes;
* every class folder holds pictures: any size, any format PIL reads;
  files that are not pictures (notes.txt, Thumbs.db) are skipped and counted;
* every picture opens: a damaged one is named by its path.

Pictures are read as the model wants them: RGB, grayscale expanded, transparent
parts over white (as 09_inference/predict.py shows them).
"""
import functools
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from torchvision import datasets

from ..errors import LessonError
from ..images import IMG_EXTENSIONS, has_transparency, on_white, open_image

PICTURE_EXTENSIONS = (*IMG_EXTENSIONS, ".tif", ".tiff")
VAL_FOLDERS = ("val", "test")
# Fonts that draw Chinese (Windows, macOS, Linux); PIL's own font draws only ASCII
CJK_FONTS = ("C:/Windows/Fonts/msyh.ttc", "C:/Windows/Fonts/simhei.ttf", "C:/Windows/Fonts/simsun.ttc",
             "/System/Library/Fonts/PingFang.ttc", "/System/Library/Fonts/STHeiti Medium.ttc",
             "/Library/Fonts/Arial Unicode.ttf", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
             "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc")


def is_picture(path):
    path = Path(path)
    return path.suffix.lower() in PICTURE_EXTENSIONS and not path.name.startswith(".")


def load_picture(path, max_side=None):
    """A picture as RGB, transparent parts over white. ``max_side``: a big JPEG may be decoded at a
    reduced scale, never below max_side x max_side (see open_image)."""
    img = open_image(path, mode=None, max_side=max_side, flag=None)
    return on_white(img) if has_transparency(img) else img.convert("RGB")


def _class_folders(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))


class PictureFolder(datasets.ImageFolder):
    """ImageFolder over pictures only, read with ``load_picture``; ``.classes``, ``.samples``, ``.targets``."""

    def __init__(self, root, transform=None, max_side=None):
        super().__init__(str(root), transform=transform, loader=functools.partial(load_picture, max_side=max_side),
                         is_valid_file=is_picture)

    def find_classes(self, directory):
        classes = _class_folders(directory)  # hidden folders (.ipynb_checkpoints) are not classes
        return classes, {c: i for i, c in enumerate(classes)}


def picture_folder(root, split, transform=None, max_side=None):
    """``root/<split>/<class>/*`` as a dataset (check the folder with ``picture_folders`` first)."""
    return PictureFolder(Path(root) / split, transform, max_side)


def picture_folders(root, train_transform=None, val_transform=None, max_side=None, flag="--data-root"):
    """Check ``root`` and return ``(train_set, val_set, classes)``; each problem is one LessonError."""
    root = Path(root)
    layout = f"expected {root / 'train'}/<class>/ and {root / 'val'}/<class>/, one folder of pictures per class"
    if not (root / "train").is_dir():
        raise LessonError(f"{flag} {root}: no train/ folder; {layout}")
    val = next((root / name for name in VAL_FOLDERS if (root / name).is_dir()), None)
    if val is None:
        raise LessonError(f"{flag} {root}: no val/ (or test/) folder; {layout}")
    classes = _class_folders(root / "train")
    if len(classes) < 2:
        raise LessonError(f"{flag} {root / 'train'} has {len(classes)} class folder(s) ({', '.join(classes)}); "
                          f"telling classes apart needs 2 or more: {layout}")
    if _class_folders(val) != classes:
        only_train = sorted(set(classes) - set(_class_folders(val)))
        only_val = sorted(set(_class_folders(val)) - set(classes))
        raise LessonError(f"{flag} {root}: train/ and {val.name}/ must have the same class folders "
                          f"(only in train/: {', '.join(only_train) or '-'}; "
                          f"only in {val.name}/: {', '.join(only_val) or '-'})")
    skipped = []
    for split in (root / "train", val):
        for name in classes:
            found = [Path(d) / f for d, _, files in os.walk(split / name, followlinks=True) for f in sorted(files)]
            pics = [p for p in found if is_picture(p)]
            skipped += [p for p in found if not is_picture(p)]
            if not pics:
                raise LessonError(f"{flag}: class folder {split / name} has no pictures "
                                  f"(.jpg, .png, ...): add some or remove the folder")
            for path in pics:
                load_picture(path, max_side)  # decodes it: a damaged picture fails now, named, not mid-training
    if skipped:
        print(f"skipped {len(skipped)} file(s) that are not pictures, e.g. {skipped[0]}", flush=True)
    train_set = picture_folder(root, "train", train_transform, max_side)
    val_set = picture_folder(root, val.name, val_transform, max_side)
    print(f"data: {root}: {len(train_set)} train / {len(val_set)} {val.name} pictures, "
          f"{len(classes)} classes ({', '.join(classes)})", flush=True)
    return train_set, val_set, classes


def _default_font(size):
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1: one small bitmap font
        return ImageFont.load_default()


def _label_font(classes, size):
    """A font that draws every class name, or None (Chinese names and no CJK font on this machine)."""
    if all(c.isascii() for c in classes):
        return _default_font(size)
    for path in CJK_FONTS:
        if Path(path).is_file():
            try:
                return ImageFont.truetype(path, size)
            except OSError:
                continue
    return None


def mistakes_picture(files, true, pred, classes, side=96, columns=8):
    """The pictures a model got wrong in one HWC uint8 array, each labelled ``true -> predicted``,
    and a legend: None if the names could be drawn, else "0 = 猫, 1 = 狗" (the labels are numbers)."""
    font = _label_font(classes, 12)
    names = classes if font else [str(i) for i in range(len(classes))]
    font = font or _default_font(12)
    rows = max(1, -(-len(files) // columns))
    sheet = Image.new("RGB", (columns * side, rows * (side + 18)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (path, t, p) in enumerate(zip(files, true, pred, strict=True)):
        img = load_picture(path, max_side=2 * side)
        img.thumbnail((side, side))
        x, y = (k % columns) * side, (k // columns) * (side + 18)
        sheet.paste(img, (x + (side - img.width) // 2, y))
        draw.text((x + 2, y + side + 2), f"{names[t]} -> {names[p]}", fill="black", font=font)
    legend = None if names is classes else ", ".join(f"{i} = {c}" for i, c in enumerate(classes))
    return np.asarray(sheet), legend
