"""torchvision中的数据集使用: CIFAR-10 with a transform (course P14,
note 000 "torchvision.datasets的使用", note 001 "四、官方数据集：torchvision.datasets" 4.1,
note 003 "4.6.2 torchvision.datasets").

torchvision.datasets ships ready-made Datasets (CIFAR-10, MNIST, COCO ...):
they download the files and implement __getitem__/__len__ for you. Pass
transform= and every sample goes through it when you index the dataset.

Run:     python 03_transforms/P10_dataset_transform.py    (downloads CIFAR-10 to dataset/,
         or uses the bundled sample offline)
Look:    tensorboard --logdir logs  -> IMAGES: "test_set" (steps 0-9: the first 10 test images,
         32 x 32, so zoom in; the bundled sample is sorted by class, so offline they are airplanes)
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # lets `import common` work from any folder

from torch.utils.tensorboard import SummaryWriter
from torchvision import transforms

from common import cli
from common.data import load_cifar10
from common.model import CIFAR10_CLASSES
from common.paths import lesson_logdir


def main():
    p = cli.parser(__doc__.splitlines()[0], device=False)
    args = p.parse_args()

    # transform= is applied inside __getitem__, to every sample you index. Compose with a
    # single ToTensor is the course's; add Resize, Normalize ... to the list as needed.
    dataset_transform = transforms.Compose([
        transforms.ToTensor(),
    ])
    # The course:
    #   train_set = torchvision.datasets.CIFAR10(root="./dataset", train=True,
    #                                            transform=dataset_transform, download=True)
    #   test_set = torchvision.datasets.CIFAR10(root="./dataset", train=False,
    #                                           transform=dataset_transform, download=True)
    # load_cifar10 makes those calls (into dataset/ under the repo root), or, with no network,
    # returns the bundled sample: the same kind of (image, target) samples, 2500 train / 500 test.
    train_set, test_set = load_cifar10(args.data_root, args.offline, dataset_transform, args.limit, args.seed)
    classes = getattr(test_set, "classes", CIFAR10_CLASSES)  # a --limit Subset has no .classes
    print(f"len(train_set) = {len(train_set)}, len(test_set) = {len(test_set)}")
    print(f"test_set.classes: {list(classes)}")

    # test_set[0] is a pair (image, target). Without transform= the image would be a 32x32 PIL image;
    # with ToTensor it is a (3, 32, 32) tensor. target is the class index, classes[target] its name
    # (real CIFAR-10's first test image is a cat, 3; the bundled sample starts with the airplanes).
    img, target = test_set[0]
    print(f"test_set[0]: img {type(img).__name__} {tuple(img.shape)} {img.dtype}, target {target}")
    print(f"test_set.classes[target] = {classes[target]!r}")

    writer = SummaryWriter(str(lesson_logdir(__file__, args.logdir)))
    names = []
    for i in range(min(10, len(test_set))):
        img, target = test_set[i]
        writer.add_image("test_set", img, i)  # a (3, 32, 32) tensor: CHW, add_image's default
        names.append(classes[target])
    writer.close()
    print(f"first {len(names)} test images (steps 0-{len(names) - 1}): {', '.join(names)}")
    print(f"tensorboard: {lesson_logdir(__file__, args.logdir)}")


if __name__ == "__main__":
    cli.run(main)
