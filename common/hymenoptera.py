"""The ants/bees pictures the course opens by name, e.g. ``train_image("ants", "0013035.jpg")``: in
``dataset/hymenoptera_data``, downloaded if missing, else the bundled sample (``data.hymenoptera_root``)."""

from .beyond_course.lang import _
from .data import hymenoptera_root
from .errors import LessonError


def train_image(folder, name, offline=False):
    """Path of ``train/<folder>/<name>`` in the ants/bees data."""
    path = hymenoptera_root(offline) / "train" / folder / name
    if not path.is_file():
        msg = _("{path} is missing (the ants/bees data in {root} looks incomplete)")
        raise LessonError(msg.format(path=path, root=path.parents[2]))
    return path
