"""Where the data comes from: download, a folder you name, or the bundled sample.

The lesson that teaches it (03_transforms/P10_dataset_transform.py) calls
``torchvision.datasets.CIFAR10(..., download=True)`` itself; later lessons call
``cifar10(root, train=False, transform=..., download=True)``, the same call
with what a classroom needs added:

* ``root`` may also hold an ImageFolder copy (``root/train/<class>/*.jpg``,
  ``root/test/<class>/*``), e.g. the JPEG copy a classmate shares;
* without network (or with ``--offline``) it says so in one short line and
  carries on with the small real sample shipped in ``01_dataset/samples``, so every
  lesson still runs; that sample is put in the real set's order (a cat first);
* a dead or blocked network costs seconds, not minutes (``common/beyond_course/download.py``);
* a half-downloaded ``cifar-10-python.tar.gz`` is downloaded again (as torchvision
  does), or, with ``--offline`` or no network, named in one line with what to do.
"""
import os
import zipfile
from collections import deque
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.utils.data import Subset
from torchvision import datasets
from torchvision.datasets.utils import calculate_md5, check_integrity, download_and_extract_archive, download_url

from . import paths
from .beyond_course.download import Offline, downloading, fallback_note, say_once, why_not
from .errors import LessonError
from .images import open_image
from .model import CIFAR10_CLASSES

HYMENOPTERA_URL = "https://download.pytorch.org/tutorial/hymenoptera_data.zip"
FULL_TRAIN_SIZE = 50_000
CIFAR10_BYTES = 170_498_071  # the size of cifar-10-python.tar.gz (torchvision checks only its MD5)

# Where the READMEs tell how to get the data another way (## section, ### subsection), named in every
# fallback line and data error; tests/test_data.py checks both READMEs have these headings
DATA_HELP = {"README.md": ("Data", "Slow or blocked download"), "README.zh-CN.md": ("数据", "下载太慢或下载不了")}
SEE_DATA_HELP = 'README "{}" (中文 README「{}」)'.format(*(" → ".join(h) for h in DATA_HELP.values()))

# The labels the real CIFAR-10 splits start with (torchvision's CIFAR10(train=...).targets[:n], as names).
# The bundled sample is stored class by class, each class's first pictures of the real set in their order;
# put in this order (real_set_order), its first 10 train / 20 test pictures are the real set's own: a
# mix with a cat first in the test split, as in the course's video
REAL_SET_STARTS = {
    "train": ("frog", "truck", "truck", "deer", "automobile", "automobile", "bird", "horse", "ship", "cat"),
    "test": ("cat", "ship", "ship", "airplane", "frog", "frog", "automobile", "frog", "cat", "automobile",
             "airplane", "truck", "dog", "horse", "truck", "ship", "dog", "horse", "ship", "frog"),
}


class CIFAR10Folder(datasets.ImageFolder):
    """ImageFolder whose labels follow CIFAR-10's order (0 airplane ... 9 truck).

    Plain ImageFolder numbers classes alphabetically, which happens to match
    CIFAR-10 -- but only while every class folder is there. Fixing the order
    keeps label 3 meaning "cat" whatever the folder holds. Files are read with
    ``open_image``, so a damaged one is named in a one-line error.
    """

    def __init__(self, root, transform=None):
        super().__init__(root, transform=transform, loader=open_image)
        if len(self) == 0:
            raise LessonError(f"{root} has class folders but no images in them")

    def find_classes(self, directory):
        present = {p.name for p in Path(directory).iterdir() if p.is_dir()}
        missing = [c for c in CIFAR10_CLASSES if c not in present]
        if missing:
            raise LessonError(f"{directory} is missing class folder(s): {', '.join(missing)} "
                              f"(expected one folder per CIFAR-10 class: {', '.join(CIFAR10_CLASSES)})")
        return list(CIFAR10_CLASSES), {c: i for i, c in enumerate(CIFAR10_CLASSES)}


def has_torchvision_copy(root):
    return (Path(root) / datasets.CIFAR10.base_folder).is_dir()


def broken_files(root):
    """The files of torchvision's unpacked copy in ``root`` that are missing or fail their MD5 check
    (the checks ``CIFAR10`` itself makes; an empty list: the copy is whole)."""
    folder = Path(root) / datasets.CIFAR10.base_folder
    meta = datasets.CIFAR10.meta
    files = [*datasets.CIFAR10.train_list, *datasets.CIFAR10.test_list, (meta["filename"], meta["md5"])]
    return [folder / name for name, md5 in files if not check_integrity(str(folder / name), md5)]


def archive_problem(archive):
    """None if ``archive`` is CIFAR-10's cifar-10-python.tar.gz, whole; else what is wrong with it."""
    md5 = calculate_md5(str(archive))
    if md5 == datasets.CIFAR10.tgz_md5:
        return None
    size = archive.stat().st_size
    if size < CIFAR10_BYTES:
        return f"is incomplete: {size:,} of {CIFAR10_BYTES:,} bytes (a download cut short?)"
    if size > CIFAR10_BYTES:
        return f"is not CIFAR-10's archive: {size:,} bytes, not {CIFAR10_BYTES:,}"
    return f"is damaged: its MD5 is {md5}, not {datasets.CIFAR10.tgz_md5}"


class ImageFolderCopy(OSError):
    """The folder holds CIFAR-10 as pictures (train/<class>/*.jpg), not torchvision's files."""


def holds_pictures(root):
    """Is ``root/train/`` CIFAR-10 as pictures? In a folder the learner named, any train/ is taken as
    such (a missing class is then named). In dataset/, the course's own lessons leave other train/
    folders (``train/ants_image``, ``train/ants``): only one with a CIFAR-10 class folder counts."""
    train = Path(root) / "train"
    if has_torchvision_copy(root) or not train.is_dir():
        return False
    return Path(root) != paths.DATASET_DIR or any((train / c).is_dir() for c in CIFAR10_CLASSES)


@contextmanager
def cifar10_download(root, offline=False):
    """Around the course's ``CIFAR10(root, ..., download=True)``: fail fast without network, honour
    --offline, and unpack an archive already in ``root`` (say, from a classmate) with no network at all.
    With CIFAR10_URL set (a mirror; the tests point it nowhere) the archive is fetched from there
    first, so the course's call finds it on disk and only checks and unpacks it."""
    root = Path(root)
    if holds_pictures(root):
        raise ImageFolderCopy(root)
    archive = root / datasets.CIFAR10.filename
    # what is on disk counts only if whole (else torchvision downloads it all again, even with --offline):
    # the unpacked files, or the archive; a half-downloaded archive is downloaded again from the start
    # (without network or with --offline, instead_of_download names it in one line)
    have = has_torchvision_copy(root) and not broken_files(root)
    problem = None
    if not have and archive.is_file():
        problem = archive_problem(archive)
        have = problem is None
    mirror = os.environ.get("CIFAR10_URL", "").strip().strip("'\"")  # cmd's `set X="..."` keeps the quotes
    if mirror and not mirror.startswith(("http://", "https://")):
        raise LessonError(f"CIFAR10_URL={mirror}: expected the http:// or https:// address of "
                          f"{datasets.CIFAR10.filename} on a mirror")
    with downloading(mirror or datasets.CIFAR10.url, offline=offline, have=have, into=root):
        if problem:
            say_once(f"{archive} {problem}: downloading it again")
        if mirror and not have:
            download_url(mirror, str(root), datasets.CIFAR10.filename, datasets.CIFAR10.tgz_md5)
        yield


def instead_of_download(exc, root, train, transform, given=False):
    """The split to use when the course's call raised ``exc``: an ImageFolder copy in ``root``;
    for a folder the learner named (``given``) a one-line error; else the bundled sample."""
    root = Path(root)
    split = "train" if train else "test"
    if isinstance(exc, ImageFolderCopy):
        if not (root / split).is_dir():
            raise LessonError(f"{root} has train/ but no {split}/: CIFAR-10 as pictures is "
                              f"{root / 'train'}/<class>/ and {root / 'test'}/<class>/, the ten CIFAR-10 classes")
        return CIFAR10Folder(str(root / split), transform=transform)
    # something on disk, not whole, and not downloaded again: say which file and what to do
    if isinstance(exc, Offline):
        why, again = "--offline does not download it again", "run without --offline to download it again"
    else:
        why, again = f"it could not be downloaded again ({why_not(exc)})", "run again when the network works"
    archive = root / datasets.CIFAR10.filename
    problem = archive.is_file() and archive_problem(archive)
    if problem:
        raise LessonError(f"{archive} {problem}; {why}: delete it and {again}, "
                          f"or get the whole file another way ({SEE_DATA_HELP})")
    broken = has_torchvision_copy(root) and broken_files(root)
    if broken:
        what = "is missing" if not broken[0].exists() else "fails its MD5 check"
        raise LessonError(f"{broken[0].parent} is incomplete ({broken[0].name} {what}); {why}: delete that "
                          f"folder and {again}, or put a whole {datasets.CIFAR10.filename} in {root} "
                          f"({SEE_DATA_HELP})")
    if given:
        raise LessonError(f"--data-root {root}: expected {root}/cifar-10-batches-py (torchvision) "
                          f"or {root}/train/<class>/ and {root}/test/<class>/ (ImageFolder)")
    fallback_note("CIFAR-10", exc, "using the bundled sample (2,500 train / 500 test images)",
                  f"To get the full set see {SEE_DATA_HELP}")
    return bundled_cifar10(train, transform)


def real_set_order(samples, start, class_to_idx):
    """``samples`` (path, label), stored class by class, in a real split's order as far as we know it:
    one picture for each label of ``start``, then one of each class in turn, in label order, until
    every picture is placed. Each class's pictures keep their file order."""
    queues = [deque(s for s in samples if s[1] == label) for label in range(len(class_to_idx))]
    order = [queues[class_to_idx[name]].popleft() for name in start if queues[class_to_idx[name]]]
    while any(queues):
        order += [q.popleft() for q in queues if q]
    return order


def bundled_cifar10(train, transform=None):
    """The small real sample shipped in 01_dataset/samples: 250 train / 50 test images per class, in the
    real set's order (``real_set_order``)."""
    split = "train" if train else "test"
    dataset = CIFAR10Folder(str(paths.CIFAR10_SAMPLE / split), transform=transform)
    dataset.samples = dataset.imgs = real_set_order(dataset.samples, REAL_SET_STARTS[split], dataset.class_to_idx)
    dataset.targets = [label for _, label in dataset.samples]
    return dataset


def limit_dataset(dataset, limit):
    """A fixed random subset of ``limit`` samples (all classes, not just the first ones)."""
    if limit is None or limit >= len(dataset):
        return dataset
    g = torch.Generator().manual_seed(0)
    return Subset(dataset, torch.randperm(len(dataset), generator=g)[:limit].tolist())


def cifar10(root=None, train=True, transform=None, download=True, limit=None):
    """``torchvision.datasets.CIFAR10(root, train, transform, download)``, for a classroom.

    ``root`` None means ``dataset/`` (the course's ``./dataset``, under the repo
    root); a ``root`` may also hold an ImageFolder copy. Without network (or with
    ``download=False`` and nothing on disk) it takes the bundled sample and says
    so in one line. ``limit`` keeps a fixed random subset of that many images.
    """
    given = root is not None
    root = paths.existing_dir(root, "--data-root") if given else paths.DATASET_DIR
    try:
        with cifar10_download(root, offline=not download):
            dataset = datasets.CIFAR10(str(root), train=train, transform=transform, download=True)
        say_once(f"data: CIFAR-10 from {root}")
    except (OSError, RuntimeError) as exc:  # no network, a blocked or broken download, --offline ...
        dataset = instead_of_download(exc, root, train, transform, given)
        if isinstance(exc, ImageFolderCopy):
            say_once(f"data: CIFAR-10 pictures from {root}")
    return limit_dataset(dataset, limit)


def unwrap(dataset):
    """The dataset under any ``Subset`` wrappers, and the indices they select (None: all)."""
    indices = None
    while isinstance(dataset, Subset):
        idx = torch.as_tensor(dataset.indices)
        indices = idx if indices is None else idx[indices]
        dataset = dataset.dataset
    return dataset, indices


def is_bundled_sample(dataset):
    base, _ = unwrap(dataset)
    return isinstance(base, datasets.ImageFolder) and Path(base.root).parent == paths.CIFAR10_SAMPLE


def trained_on(train_set):
    """What a model trained on ``train_set`` saw, as recorded in its checkpoints."""
    base, indices = unwrap(train_set)
    if hasattr(base, "folder"):  # your own pictures (beyond_course/pictures.py): the folder you named
        return {"kind": "pictures", "images": len(train_set), "root": str(base.folder)}
    if is_bundled_sample(train_set):
        kind = "bundled sample"
    elif indices is None and len(base) >= FULL_TRAIN_SIZE:
        kind = "full"
    else:
        kind = "subset"
    return {"kind": kind, "images": len(train_set)}


def hymenoptera_root(offline=False):
    """Folder holding ``train/ants``, ``train/bees``, ``val/...`` (the course's ants/bees data).

    Like CIFAR-10: ``dataset/hymenoptera_data`` if it is there, else hymenoptera_data.zip
    in dataset/ unpacked, else the download (45 MB), else the bundled sample, said in one line.
    """
    real = paths.DATASET_DIR / "hymenoptera_data"
    # Windows' 全部解压缩 (Extract All) unpacks the zip into a folder named after it: one level more
    for folder in (real, real / "hymenoptera_data"):
        if (folder / "train").is_dir():
            return folder
    if real.is_dir():  # something else: the lesson names what is missing in it
        return real
    archive = paths.DATASET_DIR / Path(HYMENOPTERA_URL).name
    try:
        # torchvision checks no MD5 for this zip: a zip already there is unpacked as it is, offline too
        with downloading(HYMENOPTERA_URL, offline=offline, have=archive.is_file(),
                         into=paths.DATASET_DIR):
            download_and_extract_archive(HYMENOPTERA_URL, str(paths.DATASET_DIR))
        return real
    except zipfile.BadZipFile:
        raise LessonError(f"{archive} is not a whole zip file ({archive.stat().st_size:,} bytes: a download cut "
                          f"short?): delete it and run again, or get the whole file another way "
                          f"({SEE_DATA_HELP})") from None
    except (OSError, RuntimeError) as exc:
        fallback_note("the ants/bees data", exc, "using the bundled sample (12 + 12 training images)",
                      f"To get the full set see {SEE_DATA_HELP}")
    return paths.HYMENOPTERA_SAMPLE
