"""Your own pictures as a dataset, checked first and each picture read once.

Two layouts (one folder per class, the folder's name is the class name, in any
language: ``猫/``, ``狗/``; labels numbered in the names' sorted order):

* ``DIR/train/<class>/*`` and ``DIR/val/<class>/*`` (or ``DIR/test/``), torchvision's ImageFolder layout;
* ``DIR/<class>/*``: each class is split for you, in memory (``--val-fraction`` of it to val, the
  same split every run); the folder itself is never changed.

``picture_folders(DIR, ...)`` checks the whole folder before anything trains or
is written: 2+ classes, pictures in each (any format PIL reads, HEIC with
pillow-heif), every picture opens (all the broken ones named in one line). That
check decodes every picture anyway, so it keeps each one in memory at the size
training needs (the first, fixed ``Resize`` of the transforms, done once): the
epochs, the features, the fast path and the mistakes picture read that copy,
and random crops and flips are applied to it afresh each epoch. Decoding runs
on every core (PIL lets go of Python's lock while it decodes).

Pictures are read as the model wants them (``load_picture``): upright (EXIF),
RGB, grayscale expanded, 16-bit scaled, transparent parts over white (as
09_inference/predict.py shows them).
"""

import os
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch.utils.data import Dataset
from torchvision import datasets
from torchvision.transforms import Compose, Resize, ToTensor
from torchvision.transforms import functional as F

from ..data import limit_dataset, unwrap
from ..errors import LessonError
from ..images import HEIC_EXTENSIONS, HEIC_HOW, has_transparency, heic_reader, on_white, open_image
from ..model import CIFAR10_CLASSES
from .dataset_files import has_torchvision_copy
from .lang import _

# every picture format a phone or a laptop makes that PIL reads by itself (.jfif/.jpe: JPEGs), any case
PICTURE_EXTENSIONS = (".jpg", ".jpeg", ".jfif", ".jpe", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
VAL_FOLDERS = ("val", "test")
VAL_FRACTION = 0.2  # DIR/<class>/ layout: the share of each class that goes to val
SHOWN = 5  # how many files a note or an error names before it says "and N more"
MEMORY_BUDGET = 2 * 1024**3  # bytes of resized pictures kept in memory; beyond, they are read again each time
# Fonts that draw Chinese (Windows, macOS, Linux); PIL's own font draws only ASCII
CJK_FONTS = (
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
    "C:/Windows/Fonts/simsun.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
)


def is_heic(path):
    return Path(path).suffix.lower() in HEIC_EXTENSIONS and not Path(path).name.startswith(".")


def is_picture(path):
    """A file the lessons read as a picture (a HEIC photo only where pillow-heif is installed)."""
    path = Path(path)
    return (
        path.suffix.lower() in PICTURE_EXTENSIONS or (is_heic(path) and heic_reader())
    ) and not path.name.startswith(".")


def named(files, root=None):
    """Up to SHOWN file names (relative to ``root``), then how many more."""
    shown = [str(Path(f).relative_to(root)) if root else Path(f).name for f in files[:SHOWN]]
    more = _(" and {n} more").format(n=len(files) - SHOWN) if len(files) > SHOWN else ""
    return _(", ").join(shown) + more


def load_picture(path, max_side=None):
    """A picture as RGB, upright, transparent parts over white. ``max_side``: a big JPEG may be decoded at
    a reduced scale, never below max_side x max_side (see open_image)."""
    img = open_image(path, mode=None, max_side=max_side, flag=None)
    return on_white(img) if has_transparency(img) else img.convert("RGB")


class Decoded:
    """The pictures, each decoded once at the size training needs: ``Resize(size)`` done on reading,
    the result kept in memory (up to MEMORY_BUDGET). Called with a path, it gives that picture."""

    def __init__(self, size=None, max_side=None):
        self.size, self.max_side, self.images, self.kept = size, max_side, {}, 0

    def read(self, path):
        img = load_picture(path, self.max_side)
        return F.resize(img, self.size) if self.size else img  # the same pixels as the Resize(size) step

    def __call__(self, path):
        img = self.images.get(path)
        return img if img is not None else self.read(path)

    def read_all(self, files):
        """Decode every file (on every core), keep them; return [(path, why it cannot be read)]."""

        def one(path):
            try:
                return self.read(path), None
            except LessonError as exc:
                return None, str(exc).removeprefix(str(path)).strip()

        broken = []
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            for path, (img, why) in zip(files, pool.map(one, files), strict=True):
                if why:
                    broken.append((path, why))
                elif self.kept + img.width * img.height * 3 <= MEMORY_BUDGET:
                    self.images[path] = img
                    self.kept += img.width * img.height * 3
        if len(self.images) < len(files) - len(broken):
            print(
                _(
                    "note: the resized pictures need over {gb:.0f} GB of memory: {n} of them are read from disk "
                    "again each epoch (slower)"
                ).format(gb=MEMORY_BUDGET / 1024**3, n=len(files) - len(broken) - len(self.images)),
                flush=True,
            )
        return broken


class Pictures(Dataset):
    """(picture, label) pairs like ImageFolder's: ``.samples`` [(path, label)], ``.targets``, ``.classes``;
    ``.folder`` is the learner's folder; pictures come from ``loader`` (a ``Decoded``)."""

    def __init__(self, samples, classes, folder, transform=None, loader=None):
        self.samples, self.classes, self.folder = samples, classes, Path(folder)
        self.targets = [label for _path, label in samples]
        self.transform, self.loader = transform, loader or load_picture

    def with_transform(self, transform):
        return Pictures(self.samples, self.classes, self.folder, transform, self.loader)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label = self.samples[index]
        img = self.loader(path)
        return (self.transform(img) if self.transform else img), label


def _class_folders(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))


def _files(folder):
    return [Path(d) / f for d, _dirs, files in os.walk(folder, followlinks=True) for f in sorted(files)]


def _loose(folder):
    """Pictures directly in ``folder`` (not in a class folder): they belong to no class."""
    return [p for p in sorted(Path(folder).iterdir()) if p.is_file() and (is_picture(p) or is_heic(p))]


def _split(files, fraction, rng):
    """A class's files -> (train, val): a shuffled ``fraction`` (at least 1) to val."""
    files = list(files)
    rng.shuffle(files)
    n_val = min(len(files) - 1, max(1, round(fraction * len(files))))
    return sorted(files[n_val:]), sorted(files[:n_val])


def picture_folders(
    root,
    train_transform=None,
    val_transform=None,
    size=None,
    max_side=None,
    val_fraction=VAL_FRACTION,
    flag="--data-root",
):
    """Check ``root`` and return ``(train_set, val_set, classes)``; each problem is one LessonError.
    ``size``: the first ``Resize`` of the transforms, done once per picture; ``max_side``: see load_picture."""
    root = Path(root)
    layout = _(
        "expected {root}/<class>/ (split for you) or {train}/<class>/ and {val}/<class>/, one folder of "
        "pictures per class"
    ).format(root=root, train=root / "train", val=root / "val")
    top = _class_folders(root)
    split_here = not any(name in top for name in ("train", *VAL_FOLDERS))
    if split_here:  # DIR/<class>/: every folder is a class, split below
        tops, val_name = {"all": root}, "val"
    else:
        if "train" not in top:
            raise LessonError(
                _("{flag} {root}: no train/ folder; {layout}").format(flag=flag, root=root, layout=layout)
            )
        val = next((root / name for name in VAL_FOLDERS if name in top), None)
        if val is None:
            raise LessonError(
                _("{flag} {root}: no val/ (or test/) folder; {layout}").format(flag=flag, root=root, layout=layout)
            )
        tops, val_name = {"train": root / "train", "val": val}, val.name
    classes = _class_folders(next(iter(tops.values())))
    where = tops.get("train", root)
    if len(classes) < 2:
        raise LessonError(
            _(
                "{flag} {where} has {n} class folder(s) ({names}); telling classes apart needs 2 or more: {layout}"
            ).format(flag=flag, where=where, n=len(classes), names=_(", ").join(classes), layout=layout)
        )
    if not split_here and _class_folders(tops["val"]) != classes:
        only_train = sorted(set(classes) - set(_class_folders(tops["val"])))
        only_val = sorted(set(_class_folders(tops["val"])) - set(classes))
        raise LessonError(
            _(
                "{flag} {root}: train/ and {val}/ must have the same class folders (only in train/: "
                "{only_train}; only in {val}/: {only_val})"
            ).format(
                flag=flag,
                root=root,
                val=val_name,
                only_train=_(", ").join(only_train) or "-",
                only_val=_(", ").join(only_val) or "-",
            )
        )

    found, skipped, heic, loose = {}, [], [], []
    for split, folder in tops.items():
        loose += _loose(folder)
        for name in classes:
            files = _files(folder / name)
            found[split, name] = [p for p in files if is_picture(p)]
            heic += [p for p in files if is_heic(p) and not is_picture(p)]
            skipped += [p for p in files if not is_picture(p) and not is_heic(p)]
            if not found[split, name]:
                only_heic = [p for p in files if is_heic(p)]
                if only_heic:
                    raise LessonError(
                        _(
                            "{flag}: class folder {path} has only HEIC photos (iPhone; {names}), which "
                            "need pillow-heif: {how}, then run again"
                        ).format(flag=flag, path=folder / name, names=named(only_heic), how=HEIC_HOW)
                    )
                raise LessonError(
                    _(
                        "{flag}: class folder {path} has no pictures (.jpg, .png, ...): add some or remove the folder"
                    ).format(flag=flag, path=folder / name)
                )
    if skipped:
        print(
            _("skipped {n} file(s) that are not pictures, e.g. {name}").format(n=len(skipped), name=skipped[0]),
            flush=True,
        )
    if heic:
        print(
            _(
                "note: {n} HEIC photo(s) (iPhone) skipped, as this Python cannot read them: {names}; to use them: {how}"
            ).format(n=len(heic), names=named(heic, root), how=HEIC_HOW),
            flush=True,
        )
    if loose:
        print(
            _(
                "note: {n} picture(s) not in a class folder, so not used: {names} (move each into its class's folder)"
            ).format(n=len(loose), names=named(loose, root)),
            flush=True,
        )
    if split_here:
        if not 0 < val_fraction < 1:
            raise LessonError(
                _("--val-fraction {value}: give a number between 0 and 1, e.g. 0.2").format(value=val_fraction)
            )
        rng = random.Random(0)  # the same split every run, whatever --seed says
        for name in classes:
            if len(found["all", name]) < 2:
                raise LessonError(
                    _(
                        "{flag}: class folder {path} has 1 picture; splitting it into train and val needs 2 or more"
                    ).format(flag=flag, path=root / name)
                )
            found["train", name], found["val", name] = _split(found.pop(("all", name)), val_fraction, rng)
        print(
            _(
                "data: {root} has class folders but no train/ and val/: each class is split {train:.0f}% train / "
                "{val:.0f}% val (--val-fraction {fraction:g}), the same split every run; your folder is not "
                "changed"
            ).format(root=root, train=100 * (1 - val_fraction), val=100 * val_fraction, fraction=val_fraction),
            flush=True,
        )

    # every picture decoded now, once, in parallel: all broken files named at once, before anything is written
    start = time.perf_counter()
    decoded = Decoded(size, max_side)
    broken = decoded.read_all([p for name in classes for split in ("train", "val") for p in found[split, name]])
    if broken:
        shown = _("; ").join(f"{Path(p).relative_to(root)} {why}" for p, why in broken[:SHOWN])
        more = _("; and {n} more").format(n=len(broken) - SHOWN) if len(broken) > SHOWN else ""
        raise LessonError(
            _(
                "{flag} {root}: {n} picture(s) cannot be read: {shown}{more} (fix or remove them; "
                "nothing was trained or written)"
            ).format(flag=flag, root=root, n=len(broken), shown=shown, more=more)
        )
    train_set, val_set = (
        Pictures(
            [(p, label) for label, name in enumerate(classes) for p in found[split, name]],
            classes,
            root,
            transform,
            decoded,
        )
        for split, transform in (("train", train_transform), ("val", val_transform))
    )
    print(
        _(
            "data: {root}: {train} train / {val} {val_name} pictures, {n} classes ({names}), each read once ({s:.1f} s)"
        ).format(
            root=root,
            train=len(train_set),
            val=len(val_set),
            val_name=val_name,
            n=len(classes),
            names=_(", ").join(classes),
            s=time.perf_counter() - start,
        ),
        flush=True,
    )
    counts = [len(found["train", name]) for name in classes]
    line = _(", ").join(f"{name} {len(found['train', name])} / {len(found['val', name])}" for name in classes)
    big, small = max(range(len(classes)), key=counts.__getitem__), min(range(len(classes)), key=counts.__getitem__)
    if counts[big] >= 3 * counts[small]:
        line += _(" -- unbalanced: {x:.0f}x more {big} than {small} in train").format(
            x=counts[big] / counts[small], big=classes[big], small=classes[small]
        )
    print(_("per class (train / {val_name}): {line}").format(val_name=val_name, line=line), flush=True)
    return train_set, val_set, classes


def is_cifar10(root):
    """Does --data-root hold CIFAR-10 (torchvision's files, their archive, the ten class folders under
    train/) or nothing yet (CIFAR-10 is downloaded there)? Any other folder with pictures is yours."""
    root = Path(root)
    if has_torchvision_copy(root) or (root / datasets.CIFAR10.filename).is_file():
        return True
    if (root / "train").is_dir():
        return set(_class_folders(root / "train")) == set(CIFAR10_CLASSES)
    return not any(is_picture(p) or is_heic(p) for p in root.rglob("*"))


def picture_data(root, size=32, limit=None, val_fraction=VAL_FRACTION):
    """Your own pictures for a CIFAR-sized model (``picture_folders``), each resized to ``size`` x ``size``.
    Returns ``(train_set, test_set, classes)``."""
    # size: the Resize runs once per picture, in picture_folders (here it then leaves them as they are);
    # max_side: a big JPEG is decoded at a reduced scale (still larger than size), far faster
    resize = Compose([Resize((size, size)), ToTensor()])
    train_set, test_set, classes = picture_folders(
        root, resize, resize, size=(size, size), max_side=4 * size, val_fraction=val_fraction
    )
    return limit_dataset(train_set, limit), limit_dataset(test_set, limit), classes


def class_weights(targets, num_classes):
    """--balance: a weight per class for CrossEntropyLoss, so each class counts as much in the loss
    however many pictures it has (n / (classes x its count): 1 for every class when balanced)."""
    counts = torch.bincount(torch.as_tensor(targets), minlength=num_classes).float()
    return len(targets) / (num_classes * counts.clamp(min=1))


def targets_of(dataset):
    """The labels of a dataset (also of a --limit subset of it), as a list."""
    base, indices = unwrap(dataset)
    targets = torch.as_tensor(base.targets)
    return (targets if indices is None else targets[indices]).tolist()


def files_of(dataset):
    """The picture files of a dataset (also of a --limit subset of it), in its order."""
    base, indices = unwrap(dataset)
    return [base.samples[i][0] for i in (range(len(base)) if indices is None else indices.tolist())]


def predictions(model, batches, device):
    """(predicted labels, true labels) of ``model`` over ``batches`` of (images, labels), on the CPU."""
    model.eval()
    preds, truth = [], []
    with torch.no_grad():
        for imgs, targets in batches:
            preds.append(model(imgs.to(device)).argmax(1).cpu())
            truth.append(torch.as_tensor(targets).cpu())
    return torch.cat(preds), torch.cat(truth)


def biggest_class(train_targets, val_targets):
    """The "always say the biggest class" baseline: (that class's label, its val accuracy)."""
    label = Counter(train_targets).most_common(1)[0][0]
    return label, sum(t == label for t in val_targets) / len(val_targets)


def per_class_lines(who, preds, truth, classes, train_targets, hint):
    """The lines after training on your pictures: val accuracy per class, and a warning if the model
    does not beat always saying the biggest class."""
    preds, truth = torch.as_tensor(preds), torch.as_tensor(truth)
    parts, accs = [], []
    for label, name in enumerate(classes):
        mine = truth == label
        right, n = int((preds[mine] == label).sum()), int(mine.sum())
        accs.append(right / n if n else 0.0)
        parts.append(f"{name} {accs[-1]:.4f} ({right}/{n})")
    acc = (preds == truth).float().mean().item()
    label, base = biggest_class(train_targets, truth.tolist())
    lines = [
        _("{who}: val accuracy per class: {parts}; mean over classes {mean:.4f}").format(
            who=who, parts=_(", ").join(parts), mean=sum(accs) / len(accs)
        )
    ]
    if (preds == truth).sum() <= (truth == label).sum():  # counted, not compared as rounded fractions
        lines.append(
            _(
                "{who}: val accuracy {acc:.4f} does not beat always answering {name} ({base:.4f}, the biggest "
                "class in train): it may only have learnt which class is most common; {hint}"
            ).format(who=who, acc=acc, name=classes[label], base=base, hint=hint)
        )
    return lines


def report_classes(model, batches, device, train_set, val_set, classes):
    """train_gpu.py on your own pictures: val accuracy class by class beside the baseline (printed);
    returns one val picture, for the predict.py command the run ends with (CIFAR-10: None, its dog)."""
    if classes is CIFAR10_CLASSES:
        return None
    preds, truth = predictions(model, batches, device)
    print(
        "\n".join(
            per_class_lines(
                "tudui",
                preds,
                truth,
                classes,
                targets_of(train_set),
                _("more pictures of the smaller classes, or more --epochs, may help"),
            )
        )
    )
    return files_of(val_set)[0]


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


def _names(classes):
    """(names to draw, font, legend): numbers and a legend "0 = 猫, 1 = 狗" when no font draws the names."""
    font = _label_font(classes, 12)
    names = classes if font else [str(i) for i in range(len(classes))]
    legend = None if font else ", ".join(f"{i} = {c}" for i, c in enumerate(classes))
    return names, font or _default_font(12), legend


def confusion_picture(truth, preds, classes, cell=48):
    """The confusion matrix as an HWC uint8 picture: row = true class, column = predicted class, each cell
    its count, darker the larger its share of the row; and the legend (see _names)."""
    k = len(classes)
    matrix = torch.zeros(k, k, dtype=torch.long)
    for t, p in zip(torch.as_tensor(truth).tolist(), torch.as_tensor(preds).tolist(), strict=True):
        matrix[t, p] += 1
    names, font, legend = _names(classes)
    margin = 8 + 7 * max(len(n) for n in names)
    sheet = Image.new("RGB", (margin + k * cell, 18 + margin + k * cell), "white")
    draw = ImageDraw.Draw(sheet)
    title = _("rows: true, columns: predicted")  # in English where no font here draws Chinese
    title_font = _label_font([title], 12)
    draw.text(
        (margin, 2), title if title_font else "rows: true, columns: predicted", fill="black", font=title_font or font
    )
    for i in range(k):
        draw.text((4, 18 + margin + i * cell + cell // 3), names[i], fill="black", font=font)
        draw.text((margin + i * cell + 4, 18 + margin - 16), names[i][:6], fill="black", font=font)
        for j in range(k):
            share = matrix[i, j].item() / max(1, matrix[i].sum().item())
            shade = int(255 * (1 - 0.8 * share))
            x, y = margin + j * cell, 18 + margin + i * cell
            draw.rectangle((x, y, x + cell - 2, y + cell - 2), fill=(shade, shade, 255), outline="gray")
            draw.text((x + 6, y + cell // 3), str(matrix[i, j].item()), fill="black", font=font)
    return np.asarray(sheet), legend


def mistakes_picture(files, true, pred, classes, load=None, side=96, columns=8):
    """The pictures a model got wrong in one HWC uint8 array, each labelled ``true -> predicted``, and
    the legend (see _names). ``load``: how a picture is read (the run's ``Decoded`` copy: no new decode)."""
    names, font, legend = _names(classes)
    rows = max(1, -(-len(files) // columns))
    sheet = Image.new("RGB", (columns * side, rows * (side + 18)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (path, t, p) in enumerate(zip(files, true, pred, strict=True)):
        img = load(path).copy() if load else load_picture(path, max_side=2 * side)
        img.thumbnail((side, side))
        x, y = (k % columns) * side, (k // columns) * (side + 18)
        sheet.paste(img, (x + (side - img.width) // 2, y))
        draw.text((x + 2, y + side + 2), f"{names[t]} -> {names[p]}", fill="black", font=font)
    return np.asarray(sheet), legend
