"""torchvision中的数据集使用: get CIFAR-10 with torchvision.datasets.CIFAR10 and a transform.

Course P14; note 000 "torchvision.datasets的使用", note 001 "四、官方数据集：torchvision.datasets"
4.1, note 003 "4.6.2 torchvision.datasets". torchvision.datasets ships
ready-made Datasets (CIFAR-10, MNIST, COCO ...): they download the files and
implement __getitem__/__len__ for you. Pass transform= and every sample goes
through it when you index the dataset.

Run:     python 03_transforms/P10_dataset_transform.py    (downloads CIFAR-10 to dataset/,
         or uses the bundled sample without network)
Look:    tensorboard --logdir logs  -> IMAGES: "test_set" (steps 0-9: the first 10 test images,
         32 x 32, so zoom in; offline, the bundled sample starts as the real set does: cat, ship, ship ...)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, data, errors, paths

import torchvision
from torch.utils.tensorboard import SummaryWriter


def main():
    p = cli.parser(__doc__, device=False)
    args = p.parse_args()

    # transform= is applied inside __getitem__, to every sample you index. Compose with a
    # single ToTensor is the course's; add Resize, Normalize ... to the list as needed.
    dataset_transform = torchvision.transforms.Compose(
        [
            torchvision.transforms.ToTensor(),
        ]
    )
    # The course's root "./dataset" depends on where Python was started; here it is dataset/
    # under the repository root (or --data-root)
    root = args.data_root or paths.DATASET_DIR
    try:
        # beyond the course: fail in seconds, not minutes, when the network is down or blocked;
        # --offline skips the attempt; cifar-10-python.tar.gz already in dataset/ is unpacked offline
        with data.cifar10_download(root, offline=args.offline):
            train_set = torchvision.datasets.CIFAR10(root=root, train=True, transform=dataset_transform, download=True)
            test_set = torchvision.datasets.CIFAR10(root=root, train=False, transform=dataset_transform, download=True)
    except (OSError, RuntimeError) as exc:  # no network, a blocked or broken download, --offline
        # the bundled sample instead (one line says so): the same kind of (image, target) samples
        train_set = data.instead_of_download(exc, root, True, dataset_transform)
        test_set = data.instead_of_download(exc, root, False, dataset_transform)
    train_set, test_set = data.limit_dataset(train_set, args.limit), data.limit_dataset(test_set, args.limit)
    classes = data.unwrap(test_set)[0].classes  # (a --limit Subset wraps the dataset)
    print(f"len(train_set) = {len(train_set)}, len(test_set) = {len(test_set)}")
    print(f"test_set.classes: {list(classes)}")

    # test_set[0] is a pair (image, target). Without transform= the image would be a 32x32 PIL image;
    # with ToTensor it is a (3, 32, 32) tensor. target is the class index, classes[target] its name
    # (real CIFAR-10's first test image is a cat, 3; so is the bundled sample's).
    img, target = test_set[0]
    print(
        _("test_set[0]: img {kind} {shape} {dtype}, target {target}").format(
            kind=type(img).__name__, shape=tuple(img.shape), dtype=img.dtype, target=target
        )
    )
    print(f"test_set.classes[target] = {classes[target]!r}")

    logdir = paths.lesson_logdir(__file__, args.logdir)
    writer = SummaryWriter(logdir)
    names = []
    for i in range(min(10, len(test_set))):
        img, target = test_set[i]
        writer.add_image("test_set", img, i)  # a (3, 32, 32) tensor: CHW, add_image's default
        names.append(classes[target])
    writer.close()
    print(
        _("first {n} test images (steps 0-{last}): {names}").format(
            n=len(names), last=len(names) - 1, names=", ".join(names)
        )
    )
    print(f"tensorboard: {logdir}")


if __name__ == "__main__":
    errors.run(main)
