"""How much faster feature extraction trains on features computed once than with a full forward pass every epoch.

Not a lesson from the course: the measurement behind transfer_learning.py's feature
extraction. With the pretrained layers frozen, a picture's features never change (no
random crop/flip in that way), so transfer_learning.py computes them once and trains
the new last layer on them. In one process, on the same pictures, it times epochs of

  plain     the frozen ResNet-18 runs on every picture every epoch (decode, resize, forward),
            only the new last layer trains
  cached    the same last layer trained on the features computed once (their one-time cost
            reported separately)
  finetune  every layer trains (transfer_learning.py's 微调), random crop + flip

alternating the three for --repeats rounds and printing the median seconds per epoch and
the ratio plain / cached. The weights are random (no download): the speed is the same.

Then, with --photos N (default 20), the cost of phone photos: N synthetic 12-megapixel JPEGs
(4032x3024, made in a temporary folder) read by transfer_learning.py's data path -- the folder
check, the features, --epochs of fine-tuning and val, the mistakes picture -- against one
plain decode pass (PIL, full size, one core), side by side in seconds per 100 photos, and how
many times each photo was decoded (the check decodes each one once, at the size training needs,
on every core; everything after reads that copy).

Run:  python 06_pretrained/benchmark_transfer.py --data-root DIR       (e.g. the ants/bees data)
      python 06_pretrained/benchmark_transfer.py --offline             (bundled sample, quick)
      python 06_pretrained/benchmark_transfer.py --offline --repeats 1 --photos 200   (the photo line)
Measure on a quiet machine: another busy process on a 2-core laptop halves the numbers.
"""

import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, data, errors
from common.beyond_course import pictures
from common.device import pick_device

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision.models import ResNet18_Weights, resnet18
from torchvision.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip, Resize, ToTensor


def epoch(model, batches, params, device):
    """One training epoch of ``model`` on ``batches``, updating ``params``; its seconds."""
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for x, y in batches:
        loss = loss_fn(model(x.to(device)), y.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if device.type != "cpu":
        torch.accelerator.synchronize()
    return time.perf_counter() - start


def main():
    p = cli.parser(__doc__, data="ants_bees", logdir=False, seed=True)
    p.add_argument("--data-root", metavar="DIR", default=None, help=_("DIR/train/<class>/*, DIR/val/<class>/*"))
    p.add_argument("--image-size", type=cli.positive_int, default=224, help=_("input size (default 224)"))
    p.add_argument("--batch-size", type=cli.positive_int, default=16, help=_("pictures per step (default 16)"))
    p.add_argument("--repeats", type=cli.positive_int, default=3, help=_("rounds (the median is reported)"))
    photos = _("12-megapixel photos for the photo line (default 20, at least 4; 0: no photo line)")
    p.add_argument("--photos", type=cli.non_negative_int, default=20, help=photos)
    p.add_argument("--epochs", type=cli.positive_int, default=5, help=_("epochs of the photo line's run (default 5)"))
    args = p.parse_args()
    if 0 < args.photos < 4:
        p.error(_("--photos: give 4 or more (2 classes, each split into train and val), or 0"))
    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    line = _("device: {device}, torch {version}, {n} threads")
    print(line.format(device=device, version=torch.__version__, n=torch.get_num_threads()))

    size, resize = args.image_size, args.image_size * 256 // 224
    plain_tf = ResNet18_Weights.DEFAULT.transforms(crop_size=size, resize_size=resize)
    train_tf = Compose(
        [Resize(resize), RandomCrop(size), RandomHorizontalFlip(), ToTensor(), Normalize(plain_tf.mean, plain_tf.std)]
    )
    root = Path(args.data_root) if args.data_root else data.hymenoptera_root(args.offline)
    train_aug, _val, classes = pictures.picture_folders(root, train_tf, size=resize, max_side=resize)
    train_plain = train_aug.with_transform(plain_tf)

    frozen = resnet18(num_classes=len(classes)).to(device)  # random weights: same speed as ImageNet's
    frozen.requires_grad_(False)
    frozen.fc.requires_grad_(True)
    frozen.eval()  # frozen BatchNorm: its averages stay
    backbone = resnet18().to(device).eval()
    backbone.fc = nn.Identity()
    t0 = time.perf_counter()
    with torch.no_grad():
        feats = [(backbone(x.to(device)), y.to(device)) for x, y in DataLoader(train_plain, batch_size=64)]
    once = time.perf_counter() - t0
    cached = TensorDataset(torch.cat([f for f, _y in feats]), torch.cat([y for _f, y in feats]))
    head = nn.Linear(512, len(classes)).to(device)
    finetune = resnet18(num_classes=len(classes)).to(device).train()
    line = _("{n} training pictures at {size}x{size}, batch {batch}; features computed once in {s:.2f} s")
    print(line.format(n=len(train_plain), size=size, batch=args.batch_size, s=once))

    batches = partial(DataLoader, batch_size=args.batch_size, shuffle=True)
    loops = {
        "plain": lambda: epoch(frozen, batches(train_plain), frozen.fc.parameters(), device),
        "cached": lambda: epoch(head, batches(cached), head.parameters(), device),
        "finetune": lambda: epoch(finetune, batches(train_aug), finetune.parameters(), device),
    }
    results = {name: [] for name in loops}
    for r in range(args.repeats):
        for name, one_epoch in loops.items():
            results[name].append(one_epoch())
        times = _(", ").join(_("{name} {s:.3f} s").format(name=n, s=v[-1]) for n, v in results.items())
        print(_("round {n}: {times}").format(n=r + 1, times=times), flush=True)
    med = {name: statistics.median(v) for name, v in results.items()}
    print("\n" + _("median seconds per epoch over {n} round(s):").format(n=args.repeats))
    print(_("  plain    (full forward every epoch)   {s:8.3f}").format(s=med["plain"]))
    line = _("  cached   (features computed once)     {s:8.3f}   {x:,.0f}x faster per epoch (plus {once:.2f} s once)")
    print(line.format(s=med["cached"], x=med["plain"] / med["cached"], once=once))
    print(_("  finetune (every layer trains)         {s:8.3f}").format(s=med["finetune"]))
    if args.photos:
        photo_line(args.photos, size, resize, train_tf, plain_tf, args.epochs)


def make_photos(folder, n, seed=0):
    """``n`` JPEGs of 4032x3024 (a phone's 12 megapixels), half in folder/a, half in folder/b: smooth
    random shapes plus sensor-like noise, so they compress (and decode) like photos."""
    rng = np.random.default_rng(seed)
    for k in range(n):
        small = Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).resize((4032, 3024), Image.BICUBIC)
        noise = rng.integers(-6, 7, (3024, 4032, 3), dtype=np.int16)
        pixels = np.clip(np.asarray(small, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
        path = folder / "ab"[k % 2] / f"IMG_{k:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path, quality=90)


def photo_line(n, size, resize, train_tf, plain_tf, epochs):
    """Seconds per 100 photos: one plain decode pass vs transfer_learning.py's data path (no model)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        make_photos(folder, n)
        print("\n" + _("{n} photos of 4032x3024 made in {s:.1f} s").format(n=n, s=time.perf_counter() - t0), flush=True)
        files = sorted(folder.rglob("*.jpg"))
        t0 = time.perf_counter()
        for f in files:
            with Image.open(f) as img:
                img.convert("RGB")
        plain = time.perf_counter() - t0
        decodes = []
        read = pictures.load_picture
        pictures.load_picture = lambda path, max_side=None: decodes.append(path) or read(path, max_side)
        t0 = time.perf_counter()
        try:  # what transfer_learning.py reads, in its order (the split layout: 80% train / 20% val)
            train, val, classes = pictures.picture_folders(folder, train_tf, plain_tf, size=resize, max_side=resize)
            check = time.perf_counter() - t0
            for dataset in (train.with_transform(plain_tf), val):  # the features, computed once
                for _item in dataset:
                    pass
            for _epoch in range(epochs):  # fine-tuning: new random crops and flips each epoch, then val
                for dataset in (train, val):
                    for _item in dataset:
                        pass
            pictures.mistakes_picture([p for p, _y in val.samples], val.targets, val.targets, classes, load=val.loader)
        finally:
            pictures.load_picture = read
        run = time.perf_counter() - t0
    line = _(
        "12-megapixel photos, seconds per 100: one plain decode pass {plain:.2f} | transfer_learning.py's data "
        "path (check, features, {epochs} epochs, val, mistakes) {run:.2f} = {x:.2f}x the plain pass, of which the "
        "check that decodes them {check:.2f}; each photo decoded {times:.1f} time(s)"
    )
    per_100 = dict(plain=100 * plain / n, run=100 * run / n, check=100 * check / n)
    print(line.format(**per_100, epochs=epochs, x=run / plain, times=len(decodes) / n))


if __name__ == "__main__":
    errors.run(main)
