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
from collections import deque
from contextlib import contextmanager
from pathlib import Path

from torchvision import datasets
from torchvision.datasets.utils import calculate_md5, check_integrity, download_and_extract_archive, download_url

from .. import paths
from ..errors import LessonError
from ..model import CIFAR10_CLASSES
from . import lang
from .download import Offline, downloading, fallback_note, say_once, why_not
from .lang import _

CIFAR10_BYTES = 170_498_071  # the size of cifar-10-python.tar.gz (torchvision checks only its MD5)
HYMENOPTERA_URL = "https://download.pytorch.org/tutorial/hymenoptera_data.zip"

# Where the READMEs tell how to get the data another way (## section, ### subsection), named in every
# fallback line and data error; tests/test_data.py checks both READMEs have these headings
DATA_HELP = {"README.md": ("Data", "Slow or blocked download"), "README.zh-CN.md": ("数据", "下载太慢或下载不了")}

# The labels the real CIFAR-10 splits start with (torchvision's CIFAR10(train=...).targets[:n], as names).
# The bundled sample is stored class by class, each class's first pictures of the real set in their order;
# put in this order (real_set_order), its first 10 train / 20 test pictures are the real set's own: a
# mix with a cat first in the test split, as in the course's video
REAL_SET_STARTS = {
    "train": ("frog", "truck", "truck", "deer", "automobile", "automobile", "bird", "horse", "ship", "cat"),
    "test": (
        "cat",
        "ship",
        "ship",
        "airplane",
        "frog",
        "frog",
        "automobile",
        "frog",
        "cat",
        "automobile",
        "airplane",
        "truck",
        "dog",
        "horse",
        "truck",
        "ship",
        "dog",
        "horse",
        "ship",
        "frog",
    ),
}


def see_data_help(language=None):
    """The README section, in the learner's language, that tells how to get the data another way."""
    readme = "README.zh-CN.md" if (language or lang.LANGUAGE) == "zh" else "README.md"
    return _('README "{heading}"').format(heading=" → ".join(DATA_HELP[readme]))


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
        return _("is incomplete: {size:,} of {full:,} bytes (a download cut short?)").format(
            size=size, full=CIFAR10_BYTES
        )
    if size > CIFAR10_BYTES:
        return _("is not CIFAR-10's archive: {size:,} bytes, not {full:,}").format(size=size, full=CIFAR10_BYTES)
    return _("is damaged: its MD5 is {md5}, not {right}").format(md5=md5, right=datasets.CIFAR10.tgz_md5)


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
        raise LessonError(
            _("CIFAR10_URL={mirror}: expected the http:// or https:// address of {file} on a mirror").format(
                mirror=mirror, file=datasets.CIFAR10.filename
            )
        )
    with downloading(mirror or datasets.CIFAR10.url, offline=offline, have=have, into=root):
        if problem:
            say_once(_("{archive} {problem}: downloading it again").format(archive=archive, problem=problem))
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
            raise LessonError(
                _(
                    "{root} has train/ but no {split}/: CIFAR-10 as pictures is {train}/<class>/ and "
                    "{test}/<class>/, the ten CIFAR-10 classes"
                ).format(root=root, split=split, train=root / "train", test=root / "test")
            )
        return
    if isinstance(exc, Offline):
        why, again = _("--offline does not download it again"), _("run without --offline to download it again")
    else:
        why = _("it could not be downloaded again ({why})").format(why=why_not(exc))
        again = _("run again when the network works")
    archive = root / datasets.CIFAR10.filename
    problem = archive.is_file() and archive_problem(archive)
    if problem:
        raise LessonError(
            _("{archive} {problem}; {why}: delete it and {again}, or get the whole file another way ({where})").format(
                archive=archive, problem=problem, why=why, again=again, where=see_data_help()
            )
        )
    broken = has_torchvision_copy(root) and broken_files(root)
    if broken:
        what = _("{file} is missing") if not broken[0].exists() else _("{file} fails its MD5 check")
        raise LessonError(
            _(
                "{folder} is incomplete ({what}); {why}: delete that folder and {again}, or put a whole "
                "{archive} in {root} ({where})"
            ).format(
                folder=broken[0].parent,
                what=what.format(file=broken[0].name),
                why=why,
                again=again,
                archive=datasets.CIFAR10.filename,
                root=root,
                where=see_data_help(),
            )
        )
    if root != paths.DATASET_DIR:
        raise LessonError(
            _(
                "--data-root {root}: expected {root}/cifar-10-batches-py (torchvision) or "
                "{root}/train/<class>/ and {root}/test/<class>/ (ImageFolder)"
            ).format(root=root)
        )


def fetch_hymenoptera(offline=False):
    """hymenoptera_data.zip into dataset/, unpacked: a zip already there as it is (torchvision checks
    no MD5 for it), else the download (45 MB); a zip that is not whole is one line."""
    archive = paths.DATASET_DIR / Path(HYMENOPTERA_URL).name
    try:
        with downloading(HYMENOPTERA_URL, offline=offline, have=archive.is_file(), into=paths.DATASET_DIR):
            download_and_extract_archive(HYMENOPTERA_URL, str(paths.DATASET_DIR))
    except zipfile.BadZipFile:
        raise LessonError(
            _(
                "{archive} is not a whole zip file ({size:,} bytes: a download cut short?): delete it "
                "and run again, or get the whole file another way ({where})"
            ).format(archive=archive, size=archive.stat().st_size, where=see_data_help())
        ) from None


def fetch_hymenoptera_or_sample(offline=False):
    """``fetch_hymenoptera``, else the bundled sample (said in one line): the folder to use."""
    try:
        fetch_hymenoptera(offline)
        return paths.DATASET_DIR / "hymenoptera_data"
    except (OSError, RuntimeError) as exc:
        fallback_note(
            _("the ants/bees data"),
            exc,
            _("using the bundled sample (12 + 12 training images)"),
            _("To get the full set see {where}").format(where=see_data_help()),
        )
    return paths.HYMENOPTERA_SAMPLE


def real_set_order(samples, split, class_to_idx):
    """``samples`` (path, label), stored class by class, in a real split's order as far as we know it:
    one picture for each label of ``REAL_SET_STARTS[split]``, then one of each class in turn, in label
    order, until every picture is placed. Each class's pictures keep their file order."""
    queues = [deque(s for s in samples if s[1] == label) for label in range(len(class_to_idx))]
    order = [queues[class_to_idx[name]].popleft() for name in REAL_SET_STARTS[split] if queues[class_to_idx[name]]]
    while any(queues):
        order += [q.popleft() for q in queues if q]
    return order
