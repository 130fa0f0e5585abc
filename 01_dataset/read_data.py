"""Dataset类代码实战: write your own Dataset (__getitem__ and __len__) over the ants/bees folders.

Course P6-P7; note 000 "读取数据的两个类 Dataset和DataLoader", note 001 "一、准备数据：Dataset &
Dataloader" 1.1, note 003 "4.3.1 Dataset、DataLoader".

A Dataset is anything with ``__getitem__`` (sample number idx -> (data, label))
and ``__len__`` (how many samples). Here the label is simply the folder name,
as in the course: ``train/ants/*.jpg`` -> "ants".

Run:     python 01_dataset/read_data.py              (bundled ants/bees sample, offline)
Offline: python 01_dataset/read_data.py --offline    (the bundled sample; the full set has 245 train images)
Look:    nothing in TensorBoard; read the printed lengths. Try img.show() on a sample.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

import os

from common import _, cli, errors
from common.data import hymenoptera_root
from common.errors import LessonError
from common.images import IMG_EXTENSIONS

from PIL import Image
from torch.utils.data import Dataset


class MyData(Dataset):
    def __init__(self, root_dir, label_dir):
        self.root_dir = root_dir  # e.g. .../hymenoptera_data/train
        self.label_dir = label_dir  # e.g. "ants": the folder name is the label
        self.path = os.path.join(self.root_dir, self.label_dir)
        if not os.path.isdir(self.path):
            raise LessonError(
                _("{path} is not a folder (expected root_dir/label_dir with images in it)").format(path=self.path)
            )
        # only pictures (a stray .DS_Store or Thumbs.db would crash Image.open); sorted(): os.listdir's
        # order depends on the file system, so sample 0 would differ between machines
        self.img_path = sorted(n for n in os.listdir(self.path) if n.lower().endswith(IMG_EXTENSIONS))

    def __getitem__(self, idx):
        img_name = self.img_path[idx]
        img_item_path = os.path.join(self.root_dir, self.label_dir, img_name)
        # `with` closes the file (Windows locks open files); convert("RGB") turns the real
        # data's palette GIF (imageNotFound.gif, mode "P") into 3 channels like every other image
        with Image.open(img_item_path) as img:
            img = img.convert("RGB")
        label = self.label_dir
        return img, label

    def __len__(self):
        return len(self.img_path)


def main():
    p = cli.parser(__doc__, data="ants_bees", device=False, logdir=False)
    p.add_argument("--show", action="store_true", help=_("open the first picture in your image viewer (img.show())"))
    args = p.parse_args()

    root_dir = os.path.join(hymenoptera_root(offline=args.offline), "train")
    print(f"root_dir: {root_dir}")

    ants_dataset = MyData(root_dir, "ants")
    bees_dataset = MyData(root_dir, "bees")

    # dataset[idx] calls __getitem__(idx): one (PIL image, label) pair
    img, label = ants_dataset[0]
    if args.show:  # the course's look at the picture, in the system's image viewer (off by default: tests, SSH)
        img.show()
    print(
        _("ants_dataset[0]: {name} -> {mode} image, size {size} (W, H), label {label!r}").format(
            name=ants_dataset.img_path[0], mode=img.mode, size=img.size, label=label
        )
    )

    # Adding two Datasets gives a ConcatDataset: ants first, then bees, one index range
    train_dataset = ants_dataset + bees_dataset
    print(f"len(ants_dataset) = {len(ants_dataset)}")
    print(f"len(bees_dataset) = {len(bees_dataset)}")
    print(f"len(train_dataset) = {len(train_dataset)}")
    n = len(ants_dataset)
    print(
        _(
            "train_dataset[{last}] label {a!r}, train_dataset[{n}] label {b!r}  (the bees start where the ants end)"
        ).format(last=n - 1, a=train_dataset[n - 1][1], n=n, b=train_dataset[n][1])
    )

    # Read every sample once: the odd files (GIF, .jpeg) must come out as RGB like the rest
    not_rgb_on_disk = []
    for dataset in (ants_dataset, bees_dataset):
        for name in dataset.img_path:
            with Image.open(os.path.join(dataset.path, name)) as raw:
                if raw.mode != "RGB":
                    not_rgb_on_disk.append(_("{name} (mode {mode})").format(name=name, mode=raw.mode))
    modes = {train_dataset[i][0].mode for i in range(len(train_dataset))}
    print(_("not RGB on disk: {files}").format(files=", ".join(not_rgb_on_disk) or _("none")))
    print(_("modes returned by __getitem__: {modes}").format(modes=sorted(modes)))


if __name__ == "__main__":
    errors.run(main)
