"""How fast is the data path: the course's DataLoader loop against the fast path, side by side.

Not a lesson from the course: the measurement behind ``train_gpu.py``'s default
``--loader fast`` (see ``common/beyond_course/fastdata.py`` for why it is faster).

In one process, on the same data, it times Tudui training steps (batch 64,
SGD) fed by

  classic  DataLoader(dataset with ToTensor, batch_size=64, shuffle=True, num_workers=0)
  fast     the dataset decoded once into a uint8 tensor on the device, batches sliced from it
  fast+cl  ... plus channels_last for model and batches
  fast+cl+bf16  ... plus bfloat16 autocast (train_gpu.py --amp), where the device has native bfloat16
  fast+cl+fp16  ... plus float16 autocast and GradScaler (--amp float16), where it has fast float16 (GPUs)
  (--compile adds fast+cl+compile: torch.compile, compile time excluded and reported)

alternating the loops for ``--repeats`` rounds and printing the median images/s
and the ratio to classic. It also reports the one-time cost of the fast path
(decode, cache write, cache load). ``--whole-job`` additionally times the real
``train_gpu.py`` end to end (3 epochs) with ``--loader classic`` and with the
default fast loader (cache warm), as subprocesses.

Run:  python 08_train/benchmark.py                       (bundled sample, quick)
      python 08_train/benchmark.py --data-root DIR --whole-job
Measure on a quiet machine: another busy process on a 2-core laptop halves the numbers.
"""

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, data, errors, paths
from common.beyond_course import amp, fastdata
from common.data import cifar10_download, cifar10_root, instead_of_download, limit_dataset
from common.device import pick_device
from common.model import Tudui

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder

SHORT = {"bfloat16": "bf16", "float16": "fp16"}


def sync(device):
    if device.type != "cpu":
        torch.accelerator.synchronize()


def time_steps(batches, model, device, steps, warmup, precision="float32"):
    """Images/s over ``steps`` training steps (after ``warmup`` untimed ones), as train_gpu.py --amp PRECISION."""
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "float16")
    model.train()
    done, images, start = 0, 0, None
    while done < warmup + steps:
        for imgs, targets in batches:
            if done == warmup:
                sync(device)
                start, images = time.perf_counter(), 0
            imgs, targets = imgs.to(device), targets.to(device)
            with torch.autocast(device.type, dtype=getattr(torch, precision), enabled=precision != "float32"):
                loss = loss_fn(model(imgs), targets)
            optimizer.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            images += len(targets)
            done += 1
            if done == warmup + steps:
                break
    sync(device)
    return images / (time.perf_counter() - start)


def whole_job(args, loader, *extra):
    tag = loader + "".join(extra).replace("-", "")
    cmd = [sys.executable, str(Path(__file__).with_name("train_gpu.py")), "--epochs", "3", "--overwrite"]
    cmd += ["--loader", loader, *extra, "--logdir", str(paths.LOGS_DIR / "benchmark" / tag)]
    cmd += ["--checkpoint-dir", str(paths.CHECKPOINT_DIR / "benchmark" / tag)]
    if args.data_root:
        cmd += ["--data-root", args.data_root]
    if args.offline:
        cmd += ["--offline"]
    if args.device:
        cmd += ["--device", args.device]
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        failed = _("train_gpu.py --loader {loader} failed: {problem}")  # problem: the end of its error output
        raise errors.LessonError(failed.format(loader=loader, problem=out.stderr.strip()[-300:]))
    return time.perf_counter() - start, out.stdout.strip().splitlines()[-1]


def main():
    p = cli.parser(__doc__, logdir=False, seed=True)
    p.add_argument("--batch-size", type=cli.positive_int, default=64, help=_("images per step (default 64)"))
    p.add_argument("--steps", type=cli.positive_int, default=60, help=_("timed steps per loop and round"))
    p.add_argument("--warmup", type=cli.non_negative_int, default=5, help=_("untimed steps first"))
    p.add_argument("--repeats", type=cli.positive_int, default=3, help=_("rounds (the median is reported)"))
    p.add_argument("--compile", action="store_true", help=_("also time torch.compile (slow to start)"))
    p.add_argument("--whole-job", action="store_true", help=_("also time train_gpu.py end to end, 3 epochs"))
    args = p.parse_args()
    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    device_line = _("device: {device}, torch {version}, {n} threads")
    print(device_line.format(device=device, version=torch.__version__, n=torch.get_num_threads()))

    # the course's call, into dataset/ under the repo root (its "./dataset"), or --data-root
    root = cifar10_root(args.data_root)
    dataset_transform = torchvision.transforms.ToTensor()
    try:
        with cifar10_download(root, offline=args.offline):
            train_data = torchvision.datasets.CIFAR10(root, train=True, transform=dataset_transform, download=True)
    except (OSError, RuntimeError) as exc:  # beyond the course: no network, --offline ...: the bundled sample
        train_data = instead_of_download(exc, root, True, dataset_transform)
    train_data = limit_dataset(train_data, args.limit)  # --limit N: N of its images

    # one-time cost of the fast path: decode (cache cold), then load from the cache
    base, _indices = data.unwrap(train_data)
    if isinstance(base, ImageFolder):
        fastdata.cache_path(base).unlink(missing_ok=True)  # measure the cold decode honestly
    t0 = time.perf_counter()
    images, labels = fastdata.as_uint8_tensors(train_data)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    images, labels = fastdata.as_uint8_tensors(train_data)
    warm = time.perf_counter() - t0
    cost = _(
        "fast path one-time cost for {n} images: decode {cold:.2f} s (first run), {warm:.2f} s with the cache warm"
    )
    print(cost.format(n=len(labels), cold=cold, warm=warm))

    loops = {
        "classic": lambda: DataLoader(train_data, batch_size=args.batch_size, shuffle=True, num_workers=0),
        "fast": lambda: fastdata.TensorBatches(images, labels, args.batch_size, True, device),
        "fast+cl": lambda: fastdata.TensorBatches(images, labels, args.batch_size, True, device, channels_last=True),
    }
    models = {name: Tudui().to(device) for name in loops}
    models["fast+cl"] = models["fast+cl"].to(memory_format=torch.channels_last)
    # mixed precision (train_gpu.py --amp): a row for each 16-bit float this device computes natively
    native, why = amp.native_amp(device)
    precision = {}  # the rows not named here: float32
    for name in native:
        row = f"fast+cl+{SHORT[name]}"
        loops[row], precision[row] = loops["fast+cl"], name
        models[row] = Tudui().to(device).to(memory_format=torch.channels_last)
    if not native:
        print(_("no mixed-precision rows: {why}").format(why=why))
    if args.compile:
        loops["fast+cl+compile"] = loops["fast+cl"]
        compiled = torch.compile(Tudui().to(device).to(memory_format=torch.channels_last))
        t0 = time.perf_counter()
        time_steps(loops["fast+cl"](), compiled, device, 1, 2)  # pays the compile
        print(_("torch.compile warm-up: {s:.1f} s (once per run)").format(s=time.perf_counter() - t0))
        models["fast+cl+compile"] = compiled

    results = {name: [] for name in loops}
    for r in range(args.repeats):
        for name, make in loops.items():
            ips = time_steps(make(), models[name], device, args.steps, args.warmup, precision.get(name, "float32"))
            results[name].append(ips)
        this_round = ", ".join(f"{n} {v[-1]:,.0f}" for n, v in results.items())  # images/s of each loop
        print(_("round {n}: {times}").format(n=r + 1, times=this_round), flush=True)

    base_ips = statistics.median(results["classic"])
    heading = _("images/s (median of {n}, batch {batch}, {steps} steps each):")
    print("\n" + heading.format(n=args.repeats, batch=args.batch_size, steps=args.steps))
    for name, values in results.items():
        med = statistics.median(values)
        print(f"  {name:<16} {med:>9,.0f}   x{med / base_ips:.2f}")

    if args.whole_job:
        whole_job(args, "fast")  # makes sure the decode cache is warm
        jobs = {"classic": ("classic",), "fast": ("fast",), "fast --amp": ("fast", "--amp")}
        times = {name: [] for name in jobs}
        for r in range(args.repeats):
            for name, how in jobs.items():
                seconds, last = whole_job(args, *how)
                times[name].append(seconds)
                done = _("whole job round {n}: {name} {s:.1f} s ({last})")
                print(done.format(n=r + 1, name=name, s=seconds, last=last), flush=True)
        classic = statistics.median(times["classic"])
        print("\n" + _("whole job, train_gpu.py --epochs 3 (median of {n}):").format(n=args.repeats))
        for name, values in times.items():
            med = statistics.median(values)
            print(f"  {name:<16} {med:>7.1f} {_('s')}   x{classic / med:.2f}")


if __name__ == "__main__":
    errors.run(main)
