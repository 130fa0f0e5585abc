"""The ants/bees lessons' shared flags and example images.

Scripts that read the ants/bees folders take ``--offline`` (never touch the
network) and ``--download`` (fetch the full set into ``dataset/`` when it is
missing); without either they use ``dataset/hymenoptera_data`` if it is there,
else the bundled sample. ``train_image`` finds one of the pictures the course
uses by name (``ants/0013035.jpg``, ``bees/16838648_415acd9e3f.jpg``).
"""
from .cli import LessonError
from .data import hymenoptera_root


def add_args(p):
    """Add --offline and --download to an ArgumentParser; returns it."""
    p.add_argument("--offline", action="store_true", help="never touch the network (bundled sample)")
    p.add_argument("--download", action="store_true",
                   help="download the full ants/bees set (hymenoptera_data.zip) into dataset/ if missing")
    return p


def train_image(args, folder, name):
    """Path of ``train/<folder>/<name>`` in the ants/bees data chosen by the flags."""
    path = hymenoptera_root(download=args.download, offline=args.offline) / "train" / folder / name
    if not path.is_file():
        raise LessonError(f"{path} is missing (the ants/bees data in {path.parents[2]} looks incomplete)")
    return path
