"""The course's other folder layout: images in ants_image/, each label in a .txt file in ants_label/.

Course P7; note 000 "读取数据的两个类 Dataset和DataLoader" / "os库", note 003 "4.1 os库".

When the label is not a folder name (boxes, captions, several tags ...) each
image gets a text file with the same name holding its label. The course's
practice set looks like this:

    train/ants_image/0013035.jpg    train/ants_label/0013035.txt  (contains "ants")
    train/bees_image/...            train/bees_label/...

This script builds that layout from the ants/bees folders (into
dataset/hymenoptera_label/, never into the repository's samples), writes one
label file per image, then reads it back with a Dataset that opens the .txt.

Run:     python 01_dataset/rename_dataset.py            (bundled sample, offline)
Offline: python 01_dataset/rename_dataset.py --offline
Look:    the folders it prints; nothing in TensorBoard.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

import os
import shutil

from common import _, cli, errors, paths
from common.data import hymenoptera_root
from common.images import IMG_EXTENSIONS

from PIL import Image
from torch.utils.data import Dataset


class MyLabelData(Dataset):
    """Image from image_dir, label from the .txt of the same name in label_dir."""

    def __init__(self, root_dir, image_dir, label_dir):
        self.image_path = os.path.join(root_dir, image_dir)
        self.label_path = os.path.join(root_dir, label_dir)
        self.img_names = sorted(n for n in os.listdir(self.image_path) if n.lower().endswith(IMG_EXTENSIONS))

    def __getitem__(self, idx):
        img_name = self.img_names[idx]
        with Image.open(os.path.join(self.image_path, img_name)) as img:
            img = img.convert("RGB")  # the GIF in the real data is a palette image
        label_file = os.path.join(self.label_path, os.path.splitext(img_name)[0] + ".txt")
        # encoding="utf-8": Windows' default code page would garble a label such as "蚂蚁"
        with open(label_file, encoding="utf-8") as f:
            label = f.read().strip()
        return img, label

    def __len__(self):
        return len(self.img_names)


def main():
    p = cli.parser(__doc__, data="ants_bees", device=False, logdir=False)
    args = p.parse_args()

    source = os.path.join(hymenoptera_root(offline=args.offline), "train")
    root_dir = os.path.join(paths.DATASET_DIR, "hymenoptera_label", "train")
    print(_("building the ants_image/ants_label layout in {folder}").format(folder=root_dir))

    for name in ("ants", "bees"):
        # 1. copy the images into <name>_image/ (copies, not links: links need admin rights on Windows)
        target_dir = f"{name}_image"
        os.makedirs(os.path.join(root_dir, target_dir), exist_ok=True)
        for img_name in sorted(os.listdir(os.path.join(source, name))):
            if img_name.lower().endswith(IMG_EXTENSIONS):
                shutil.copyfile(os.path.join(source, name, img_name), os.path.join(root_dir, target_dir, img_name))

        # 2. the course's rename_dataset.py: the label is the folder name before "_"
        label = target_dir.split("_")[0]
        out_dir = f"{label}_label"
        os.makedirs(os.path.join(root_dir, out_dir), exist_ok=True)
        img_path = sorted(os.listdir(os.path.join(root_dir, target_dir)))
        for i in img_path:
            # the course strips the extension with i.split('.jpg')[0]; that keeps 'formica.jpeg'
            # and 'imageNotFound.gif' whole, so their labels would not be found. splitext cuts any extension.
            file_name = os.path.splitext(i)[0]
            with open(os.path.join(root_dir, out_dir, f"{file_name}.txt"), "w", encoding="utf-8") as f:
                f.write(label)
        odd = [f"{i!r}.split('.jpg')[0] -> {i.split('.jpg')[0]!r}" for i in img_path if not i.endswith(".jpg")]
        print(
            _("{images_dir}: {images} images, {labels_dir}: {labels} label files").format(
                images_dir=target_dir,
                images=len(img_path),
                labels_dir=out_dir,
                labels=len(os.listdir(os.path.join(root_dir, out_dir))),
            )
        )
        for line in odd:
            print(_("  why splitext: {example}").format(example=line))

    # 3. read it back: the label now comes from the text file, not from the folder name
    ants_dataset = MyLabelData(root_dir, "ants_image", "ants_label")
    bees_dataset = MyLabelData(root_dir, "bees_image", "bees_label")
    train_dataset = ants_dataset + bees_dataset
    print(
        f"len(ants_dataset) = {len(ants_dataset)}, len(bees_dataset) = {len(bees_dataset)}, "
        f"len(train_dataset) = {len(train_dataset)}"
    )
    img, label = ants_dataset[0]
    print(
        _("ants_dataset[0]: {name} -> {mode} {size}, label {label} (read from {file})").format(
            name=ants_dataset.img_names[0],
            mode=img.mode,
            size=img.size,
            label=repr(label),
            file=f"ants_label/{os.path.splitext(ants_dataset.img_names[0])[0]}.txt",
        )
    )
    labels = sorted({train_dataset[i][1] for i in range(len(train_dataset))})
    print(_("labels read from the .txt files: {labels}").format(labels=labels))


if __name__ == "__main__":
    errors.run(main)
