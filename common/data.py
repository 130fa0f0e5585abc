"""Where the data comes from: download, a folder you name, or the bundled sample.

The lessons call ``torchvision.datasets.CIFAR10(..., download=True)`` exactly
as the course does. What this module adds is what a classroom needs:

* ``--data-root DIR`` accepts torchvision's layout (``DIR/cifar-10-batches-py``)
  or an ImageFolder layout (``DIR/train/<class>/*.jpg``, ``DIR/test/<class>/*``);
* with no network (or ``--offline``) it says so in one line, explains how to
  get the real data, and carries on with the small real sample shipped in
  ``common/samples`` so every lesson still runs;
* a dead network costs seconds, not minutes.
"""
import os
import socket
import threading
from pathlib import Path

import torch
from torch.utils.data import Subset
from torchvision import datasets

from . import paths
from .cli import LessonError
from .images import open_image
from .model import CIFAR10_CLASSES

# CIFAR10_URL in the environment points the download at a mirror (the tests use it too)
CIFAR10_URL = os.environ.get("CIFAR10_URL", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")
HYMENOPTERA_URL = "https://download.pytorch.org/tutorial/hymenoptera_data.zip"
PROBE_SECONDS = 5       # how long we wait to find out whether the network is there
DOWNLOAD_TIMEOUT = 30   # socket timeout while downloading (per read, not in total)


class CIFAR10Folder(datasets.ImageFolder):
    """ImageFolder whose labels follow CIFAR-10's order (0 airplane ... 9 truck).

    Plain ImageFolder numbers classes alphabetically, which happens to match
    CIFAR-10 -- but only while every class folder is there. Fixing the order
    keeps label 3 meaning "cat" whatever the folder holds. Files are read with
    ``open_image``, so a damaged one is named in a one-line error.
    """

    def __init__(self, root, transform=None):
        super().__init__(root, transform=transform, loader=open_image)

    def find_classes(self, directory):
        present = {p.name for p in Path(directory).iterdir() if p.is_dir()}
        missing = [c for c in CIFAR10_CLASSES if c not in present]
        if missing:
            raise LessonError(f"{directory} is missing class folder(s): {', '.join(missing)} "
                              f"(expected one folder per CIFAR-10 class: {', '.join(CIFAR10_CLASSES)})")
        return list(CIFAR10_CLASSES), {c: i for i, c in enumerate(CIFAR10_CLASSES)}


def network_reachable(url, seconds=PROBE_SECONDS):
    """True if a TCP connection to the URL's host opens within ``seconds``.

    Runs in a thread because a broken DNS can block ``getaddrinfo`` far longer
    than any socket timeout.
    """
    host = url.split("/")[2]
    result = {}

    def probe():
        try:
            socket.create_connection((host, 443), timeout=seconds).close()
            result["ok"] = True
        except OSError as exc:
            result["error"] = exc

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(seconds)
    if result.get("ok"):
        return True, ""
    return False, str(result.get("error") or f"no answer from {host} in {seconds} s")


def _download_cifar10(root, train, transform):
    """The course's call, with a socket timeout so a stalled download fails."""
    ok, why = network_reachable(CIFAR10_URL)
    if not ok:
        raise OSError(why)
    datasets.CIFAR10.url = CIFAR10_URL
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        return datasets.CIFAR10(str(root), train=train, transform=transform, download=True)
    finally:
        socket.setdefaulttimeout(old)


def _from_folder(root, transform):
    root = Path(root)
    if (root / "cifar-10-batches-py").is_dir():
        try:
            return (datasets.CIFAR10(str(root), train=True, transform=transform),
                    datasets.CIFAR10(str(root), train=False, transform=transform),
                    f"CIFAR-10 from {root / 'cifar-10-batches-py'}")
        except RuntimeError as exc:  # torchvision: "Dataset not found or corrupted"
            raise LessonError(f"{root / 'cifar-10-batches-py'}: {exc}") from None
    if (root / "train").is_dir() and (root / "test").is_dir():
        train, test = (CIFAR10Folder(str(root / s), transform=transform) for s in ("train", "test"))
        for split in (train, test):
            if len(split) == 0:
                raise LessonError(f"{split.root} has class folders but no images in them")
        return train, test, f"CIFAR-10 images from {root}/train and {root}/test"
    raise LessonError(f"--data-root {root}: expected {root}/cifar-10-batches-py (torchvision) "
                      f"or {root}/train/<class>/ and {root}/test/<class>/ (ImageFolder)")


def limit_dataset(dataset, limit, seed=0):
    """A fixed random subset of ``limit`` samples (all classes, not just the first)."""
    if limit is None or limit >= len(dataset):
        return dataset
    g = torch.Generator().manual_seed(seed)
    return Subset(dataset, torch.randperm(len(dataset), generator=g)[:limit].tolist())


def load_cifar10(data_root=None, offline=False, transform=None, limit=None, seed=0):
    """Return ``(train_set, test_set)`` and print one line saying what they are.

    Order of preference: ``data_root`` if given; else ``dataset/`` (downloaded
    there if missing and we are online); else the bundled sample, announced
    loudly so nobody mistakes it for the real thing.
    """
    if data_root is not None:
        if not Path(data_root).exists():
            raise LessonError(f"--data-root {data_root} does not exist")
        train, test, what = _from_folder(data_root, transform)
    elif (paths.DATASET_DIR / "cifar-10-batches-py").is_dir():
        train, test, what = _from_folder(paths.DATASET_DIR, transform)
    else:
        why = "--offline given" if offline else None
        if not offline:
            try:
                train = _download_cifar10(paths.DATASET_DIR, True, transform)
                test = _download_cifar10(paths.DATASET_DIR, False, transform)
                what = f"CIFAR-10 downloaded to {paths.DATASET_DIR}"
            except Exception as exc:  # no network, firewall, SSL, disk ... all mean "fall back"
                why = f"download failed: {type(exc).__name__}: {exc}".replace("\n", " ")
        if why:
            print(f"!! CIFAR-10 not available ({why}) -> using the BUNDLED SAMPLE, not the full "
                  f"dataset. For real data download {CIFAR10_URL} and extract it into "
                  f"{paths.DATASET_DIR} (or pass --data-root DIR).", flush=True)
            train, test, what = _from_folder(paths.CIFAR10_SAMPLE, transform)
            what = "bundled CIFAR-10 sample (common/samples/cifar10)"
    train, test = limit_dataset(train, limit, seed), limit_dataset(test, limit, seed)
    print(f"data: {what}: {len(train)} train / {len(test)} test images", flush=True)
    return train, test


def hymenoptera_root(download=False, offline=False):
    """Folder holding ``train/ants``, ``train/bees``, ``val/...`` (the course's ants/bees data).

    Uses ``dataset/hymenoptera_data`` if it is there; downloads it there when
    ``download`` is asked for (and we are online); else the bundled sample.
    """
    real = paths.DATASET_DIR / "hymenoptera_data"
    if real.is_dir():
        return real
    if download and not offline:
        ok, why = network_reachable(HYMENOPTERA_URL)
        if ok:
            from torchvision.datasets.utils import download_and_extract_archive
            old = socket.getdefaulttimeout()
            socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
            try:
                download_and_extract_archive(HYMENOPTERA_URL, str(paths.DATASET_DIR))
                return real
            except Exception as exc:
                why = f"{type(exc).__name__}: {exc}"
            finally:
                socket.setdefaulttimeout(old)
        print(f"!! ants/bees download failed ({why}) -> using the bundled sample. "
              f"Get {HYMENOPTERA_URL} and unzip it into {paths.DATASET_DIR}.", flush=True)
    return paths.HYMENOPTERA_SAMPLE
