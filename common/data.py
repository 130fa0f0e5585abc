"""Where the data comes from: download, a folder you name, or the bundled sample.

The lessons write the course's ``torchvision.datasets.CIFAR10(root, ..., download=True)`` themselves, inside
``with cifar10_download(root, offline=...):`` (a dead network costs seconds, --offline downloads nothing); when
it fails, ``instead_of_download(...)`` takes an ImageFolder copy in ``root`` or the small real sample in
``01_dataset/samples`` and says so in one line. The checks of what is on disk: ``beyond_course/dataset_files.py``.
"""

from contextlib import contextmanager
from pathlib import Path

import torch
from torch.utils.data import Subset
from torchvision import datasets

from . import paths
from .beyond_course import dataset_files
from .beyond_course.download import fallback_note, say_once
from .beyond_course.lang import _
from .errors import LessonError
from .images import open_image
from .model import CIFAR10_CLASSES


class CIFAR10Folder(datasets.ImageFolder):
    """ImageFolder with CIFAR-10's labels (0 airplane ... 9 truck; plain ImageFolder numbers the folders it finds
    alphabetically); a damaged file is named in a one-line error (``open_image``)."""

    def __init__(self, root, transform=None):
        super().__init__(root, transform=transform, loader=open_image)
        if len(self) == 0:
            raise LessonError(_("{root} has class folders but no images in them").format(root=root))

    def find_classes(self, directory):
        present = {p.name for p in Path(directory).iterdir() if p.is_dir()}
        missing = ", ".join(c for c in CIFAR10_CLASSES if c not in present)
        msg = _("{folder} is missing class folder(s): {missing} (expected one folder per CIFAR-10 class: {classes})")
        if missing:
            raise LessonError(msg.format(folder=directory, missing=missing, classes=", ".join(CIFAR10_CLASSES)))
        return list(CIFAR10_CLASSES), {c: i for i, c in enumerate(CIFAR10_CLASSES)}


def cifar10_root(data_root=None):
    """Where the course's ``CIFAR10("./dataset", ...)`` looks: dataset/ under the repository root
    (not under wherever Python was started), or --data-root."""
    return paths.existing_dir(data_root, "--data-root") if data_root else paths.DATASET_DIR


@contextmanager
def cifar10_download(root, offline=False):
    """Around the course's ``CIFAR10(root, ..., download=True)``: no network, a blocked download or
    --offline raise at once (for ``instead_of_download``), and it says where the data came from."""
    with dataset_files.checked_download(root, offline):
        yield
    say_once(_("data: CIFAR-10 from {root}").format(root=root))


def instead_of_download(exc, root, train, transform):
    """The split to use when the course's call raised ``exc``: CIFAR-10 as pictures in ``root``, else
    the bundled sample (said once, in one line); files that are not whole, or a --data-root without
    CIFAR-10, are a one-line error instead."""
    split = "train" if train else "test"
    dataset_files.refuse_broken(exc, root, split)
    if isinstance(exc, dataset_files.ImageFolderCopy):
        say_once(_("data: CIFAR-10 pictures from {root}").format(root=root))
        return CIFAR10Folder(str(Path(root) / split), transform=transform)
    full_set = _("To get the full set see {where}").format(where=dataset_files.see_data_help())
    fallback_note("CIFAR-10", exc, _("using the bundled sample (2,500 train / 500 test images)"), full_set)
    return bundled_cifar10(train, transform)


def bundled_cifar10(train, transform=None):
    """The small real sample shipped in 01_dataset/samples: 250 train / 50 test images per class, in the
    real set's order (``real_set_order``)."""
    split = "train" if train else "test"
    dataset = CIFAR10Folder(str(paths.CIFAR10_SAMPLE / split), transform=transform)
    dataset.samples = dataset.imgs = dataset_files.real_set_order(dataset.samples, split, dataset.class_to_idx)
    dataset.targets = [label for _, label in dataset.samples]
    return dataset


def limit_dataset(dataset, limit):
    """A fixed random subset of ``limit`` samples (all classes, not just the first ones); None: all."""
    if limit is None or limit >= len(dataset):
        return dataset
    g = torch.Generator().manual_seed(0)
    return Subset(dataset, torch.randperm(len(dataset), generator=g)[:limit].tolist())


def unwrap(dataset):
    """The dataset under any ``Subset`` wrappers, and the indices they select (None: all)."""
    indices = None
    while isinstance(dataset, Subset):
        idx = torch.as_tensor(dataset.indices)
        indices = idx if indices is None else idx[indices]
        dataset = dataset.dataset
    return dataset, indices


def hymenoptera_root(offline=False):
    """Folder holding ``train/ants``, ``train/bees``, ``val/...`` (the course's ants/bees data):
    ``dataset/hymenoptera_data`` if it is there, else its zip unpacked (downloaded if missing),
    else the bundled sample, said in one line."""
    real = paths.DATASET_DIR / "hymenoptera_data"
    # Windows' 全部解压缩 (Extract All) unpacks the zip into a folder named after it: one level more
    for folder in (real, real / "hymenoptera_data"):
        if (folder / "train").is_dir():
            return folder
    if real.is_dir():  # something else: the lesson names what is missing in it
        return real
    return dataset_files.fetch_hymenoptera_or_sample(offline)
