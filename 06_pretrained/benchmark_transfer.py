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

Run:  python 06_pretrained/benchmark_transfer.py --data-root DIR       (e.g. the ants/bees data)
      python 06_pretrained/benchmark_transfer.py --offline             (bundled sample, quick)
Measure on a quiet machine: another busy process on a 2-core laptop halves the numbers.
"""
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # lets `import common` work from any folder
import common  # noqa: F401  (first: a Ctrl-C while torch loads then ends in one line)

# isort: split
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision import transforms
from torchvision.models import ResNet18_Weights, resnet18

from common import cli, data, errors
from common.beyond_course import pictures
from common.device import pick_device


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
    p.add_argument("--data-root", metavar="DIR", default=None, help="DIR/train/<class>/*, DIR/val/<class>/*")
    p.add_argument("--image-size", type=cli.positive_int, default=224, help="input size (default 224)")
    p.add_argument("--batch-size", type=cli.positive_int, default=16)
    p.add_argument("--repeats", type=cli.positive_int, default=3, help="rounds (the median is reported)")
    args = p.parse_args()
    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    print(f"device: {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")

    size, resize = args.image_size, args.image_size * 256 // 224
    plain_tf = ResNet18_Weights.DEFAULT.transforms(crop_size=size, resize_size=resize)
    train_tf = transforms.Compose([transforms.Resize(resize), transforms.RandomCrop(size),
                                   transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                                   transforms.Normalize(plain_tf.mean, plain_tf.std)])
    root = Path(args.data_root) if args.data_root else data.hymenoptera_root(args.offline)
    train_aug, _, classes = pictures.picture_folders(root, train_tf, max_side=resize)
    train_plain = pictures.picture_folder(root, "train", plain_tf, max_side=resize)

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
    cached = TensorDataset(torch.cat([f for f, _ in feats]), torch.cat([y for _, y in feats]))
    head = nn.Linear(512, len(classes)).to(device)
    finetune = resnet18(num_classes=len(classes)).to(device).train()
    print(f"{len(train_plain)} training pictures at {size}x{size}, batch {args.batch_size}; "
          f"features computed once in {once:.2f} s")

    loops = {
        "plain": lambda: epoch(frozen, DataLoader(train_plain, args.batch_size, shuffle=True),
                               frozen.fc.parameters(), device),
        "cached": lambda: epoch(head, DataLoader(cached, args.batch_size, shuffle=True), head.parameters(), device),
        "finetune": lambda: epoch(finetune, DataLoader(train_aug, args.batch_size, shuffle=True),
                                  finetune.parameters(), device),
    }
    results = {name: [] for name in loops}
    for r in range(args.repeats):
        for name, one_epoch in loops.items():
            results[name].append(one_epoch())
        print(f"round {r + 1}: " + ", ".join(f"{n} {v[-1]:.3f} s" for n, v in results.items()), flush=True)
    med = {name: statistics.median(v) for name, v in results.items()}
    print(f"\nmedian seconds per epoch over {args.repeats} round(s):")
    print(f"  plain    (full forward every epoch)   {med['plain']:8.3f}")
    print(f"  cached   (features computed once)     {med['cached']:8.3f}   "
          f"{med['plain'] / med['cached']:,.0f}x faster per epoch (plus {once:.2f} s once)")
    print(f"  finetune (every layer trains)         {med['finetune']:8.3f}")


if __name__ == "__main__":
    errors.run(main)
