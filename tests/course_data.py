"""The course's CIFAR-10 call as the lesson scripts write it (08_train/train.py), with the offline
fallback around it: for the unit tests of common/data.py's fallback and the fast data path."""

from common import data

import torchvision


def cifar10(root=None, train=True, download=True, limit=None, transform=None):
    """What a lesson's ``CIFAR10(root, train=train, transform=transform, download=True)`` gets
    (``download=False``: the lesson's --offline; ``root``: its --data-root; ``limit``: --limit)."""
    root = data.cifar10_root(root)
    try:
        with data.cifar10_download(root, offline=not download):
            dataset = torchvision.datasets.CIFAR10(root, train=train, transform=transform, download=True)
    except (OSError, RuntimeError) as exc:
        dataset = data.instead_of_download(exc, root, train, transform)
    return data.limit_dataset(dataset, limit)
