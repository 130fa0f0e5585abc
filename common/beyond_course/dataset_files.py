"""What ``common.data``'s offline fallback checks in a dataset folder, beyond the course.

* CIFAR-10's files count only when whole (the MD5 checks torchvision makes): a half-downloaded
  ``cifar-10-python.tar.gz`` is downloaded again, or (``--offline``, no network) named in one
  line with what to do, as is an unpacked copy with a file missing or damaged;
* an archive already in the folder (say, from a classmate) is unpacked with no network at all;
* ``CIFAR10_URL`` names a mirror to fetch the archive from first (the tests point it nowhere);
* a folder holding CIFAR-10 as pictures (``train/<class>/*.jpg``) is used as it is;
* the ants/bees zip: downloaded and unpacked, or named when it is not a whole zip.
"""
import os
import zipfile
from contextlib import contextmanager
from pathlib import Path

from torchvision import datasets
from torchvision.datasets.utils import calculate_md5, check_integrity, download_and_extract_archive, download_url

from .. import paths
from ..errors import LessonError
from ..model import CIFAR10_CLASSES
from .download import Offline, downloading, say_once, why_not

CIFAR10_BYTES = 170_498_071  # the size of cifar-10-python.tar.gz (torchvision checks only its MD5)
HYMENOPTERA_URL = "https://download.pytorch.org/tutorial/hymenoptera_data.zip"

# Where the READMEs tell how to get the data another way (## section, ### subsection), named in every
# fallback line and data error; tests/test_data.py checks both READMEs have these headings
DATA_HELP = {"README.md": ("Data", "Slow or blocked download"), "README.zh-CN.md": ("数据", "下载太慢或下载不了")}
SEE_DATA_HELP = 'README "{}" (中文 README「{}」)'.format(*(" → ".join(h) for h in DATA_HELP.values()))


class ImageFolderCopy(OSError):
    """The folder holds CIFAR-10 as pictures (train/<class>/*.jpg), not torchvision's files."""


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


def holds_pictures(root):
    """Is ``root/train/`` CIFAR-10 as pictures? In a folder the learner named, any train/ is taken as
    such (a missing class is then named). In dataset/, the course's own lessons leave other train/
    folders (``train/ants_image``, ``train/ants``): only one with a CIFAR-10 class folder counts."""
    train = Path(root) / "train"
    if has_torchvision_copy(root) or not train.is_dir():
        return False
    return Path(root) != paths.DATASET_DIR or any((train / c).is_dir() for c in CIFAR10_CLASSES)


@contextmanager
def checked_download(root, offline=False):
    """``common.data.cifar10_download``'s checks: raises ImageFolderCopy for a copy as pictures; fails
    fast without network; with CIFAR10_URL set, fetches the archive from the mirror first."""
    root = Path(root)
    if holds_pictures(root):
        raise ImageFolderCopy(root)
    archive = root / datasets.CIFAR10.filename
    # what is on disk counts only if whole (else torchvision downloads it all again, even with --offline)
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


def refuse_broken(exc, root, split):
    """After the course's call raised ``exc``: one error line when the sample would hide a problem
    (files on disk that are not whole, a --data-root without CIFAR-10, a copy as pictures without
    ``split``); else nothing."""
    root = Path(root)
    if isinstance(exc, ImageFolderCopy):
        if not (root / split).is_dir():
            raise LessonError(f"{root} has train/ but no {split}/: CIFAR-10 as pictures is "
                              f"{root / 'train'}/<class>/ and {root / 'test'}/<class>/, the ten CIFAR-10 classes")
        return
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
    if root != paths.DATASET_DIR:
        raise LessonError(f"--data-root {root}: expected {root}/cifar-10-batches-py (torchvision) "
                          f"or {root}/train/<class>/ and {root}/test/<class>/ (ImageFolder)")


def fetch_hymenoptera(offline=False):
    """hymenoptera_data.zip into dataset/, unpacked: a zip already there as it is (torchvision checks
    no MD5 for it), else the download (45 MB); a zip that is not whole is one line."""
    archive = paths.DATASET_DIR / Path(HYMENOPTERA_URL).name
    try:
        with downloading(HYMENOPTERA_URL, offline=offline, have=archive.is_file(), into=paths.DATASET_DIR):
            download_and_extract_archive(HYMENOPTERA_URL, str(paths.DATASET_DIR))
    except zipfile.BadZipFile:
        raise LessonError(f"{archive} is not a whole zip file ({archive.stat().st_size:,} bytes: a download cut "
                          f"short?): delete it and run again, or get the whole file another way "
                          f"({SEE_DATA_HELP})") from None
