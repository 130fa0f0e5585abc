"""The same ants/bees folders through torchvision.datasets.ImageFolder, the ready-made Dataset.

After course P7; note 003 "4.6.2.2 torchvision.datasets.ImageFolder".

ImageFolder is the ready-made version of read_data.py's MyData: give it a
folder with one sub-folder per class (root/ants/*.jpg, root/bees/*.jpg) and it
lists the images, numbers the classes alphabetically (ants=0, bees=1), opens
each file as RGB and applies your transform. Unlike MyData it skips files
whose extension it does not know (the GIF in train/ants). Labels come out as integers,
which is what a loss function needs (MyData returned the string "ants").

Run:     python 01_dataset/image_folder.py             (bundled sample, offline)
Offline: python 01_dataset/image_folder.py --offline   (the bundled sample, no download attempt)
Look:    tensorboard --logdir logs  -> IMAGES: "image_folder_batch" (one augmented batch)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors
from common.data import hymenoptera_root
from common.paths import lesson_logdir

import torch
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter
from torchvision import transforms
from torchvision.datasets import ImageFolder


def main():
    p = cli.parser(__doc__, data="ants_bees", device=False, seed=True)
    args = p.parse_args()
    torch.manual_seed(args.seed)  # the random crops and flips below repeat run after run

    root = hymenoptera_root(offline=args.offline) / "train"

    # The note's transform starts with RandomCrop(180); our sample images are at most 200 px
    # and some are only 109 px high, so Resize first (shorter side -> 144), then crop 128.
    normalize = transforms.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
    transform = transforms.Compose(
        [
            transforms.Resize(144),
            transforms.RandomCrop(128),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),  # PIL (H, W, C) 0-255 -> tensor (C, H, W) 0.0-1.0
            normalize,  # (x - 0.5) / 0.5: 0.0-1.0 -> -1.0-1.0
        ]
    )
    dataset = ImageFolder(str(root), transform=transform)
    print(f"root: {root}")
    print(f"classes: {dataset.classes}, class_to_idx: {dataset.class_to_idx}")
    # ImageFolder keeps only files whose extension is in torchvision.datasets.folder.IMG_EXTENSIONS;
    # .gif is not one, so the real data's imageNotFound.gif is silently left out (MyData counted it)
    on_disk = sorted(f.name for f in root.rglob("*") if f.is_file())
    used = {Path(path).name for path, label in dataset.samples}
    skipped = [name for name in on_disk if name not in used]
    print(
        _("len(dataset) = {n} of {files} files; skipped: {skipped}").format(
            n=len(dataset), files=len(on_disk), skipped=", ".join(skipped) or _("none")
        )
    )

    # dataset[0] -> (transformed image, class index); the default loader opens every file .convert("RGB")
    img, target = dataset[0]
    print(
        _("dataset[0]: {shape} {dtype}, values {low:.2f} .. {high:.2f}, target {target} ({name})").format(
            shape=tuple(img.shape),
            dtype=img.dtype,
            low=img.min(),
            high=img.max(),
            target=target,
            name=dataset.classes[target],
        )
    )

    # Every image now has the same size, so a DataLoader can stack them into one batch
    loader = DataLoader(dataset, batch_size=8, shuffle=True)
    imgs, targets = next(iter(loader))
    print(_("one batch: imgs {shape}, targets {targets}").format(shape=tuple(imgs.shape), targets=targets.tolist()))

    logdir = lesson_logdir(__file__, args.logdir)
    writer = SummaryWriter(logdir)
    # add_images expects values in 0-1: undo Normalize for display (x * 0.5 + 0.5)
    writer.add_images("image_folder_batch", imgs * 0.5 + 0.5, 0)
    writer.close()
    print(f"tensorboard: {logdir}")


if __name__ == "__main__":
    errors.run(main)
