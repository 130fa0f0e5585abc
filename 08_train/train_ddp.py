"""利用多个GPU训练: the course's CIFAR-10 training on every GPU of one or more machines, with DDP.

The lesson after course P31 利用GPU训练（二）, beyond the course. torchrun starts one
process per device; every process runs this same script on its own part of
the data, and after each backward() DDP averages the gradients of all
processes, so every copy of the model takes the same step. The loop is
train_gpu.py's; the lines that make it distributed are marked "DDP (n)"
(the torchrun plumbing around them: common/beyond_course/distributed.py).
Without a GPU it runs too: processes on the CPU talk over gloo.

Run:     torchrun --standalone --nproc_per_node=gpu 08_train/train_ddp.py   (every GPU here, NCCL)
CPU:     torchrun --standalone --nproc_per_node=2 08_train/train_ddp.py     (2 processes, gloo)
Nodes:   torchrun --nnodes=2 --rdzv-backend=c10d --rdzv-endpoint=HOST:29500 --rdzv-id=cifar \\
             --nproc_per_node=gpu 08_train/train_ddp.py                     (the same on each machine)
One:     python 08_train/train_ddp.py                                        (one process; says how to start more)
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # lets `import common` work from any folder
import common  # noqa: F401  (first: a Ctrl-C while torch loads then ends in one line)

# isort: split
import argparse
import os
import time
from types import SimpleNamespace

import torch
import torch.distributed as dist
import torchvision
from torch import nn
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Subset
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from common import cli, errors
from common.beyond_course import amp, distributed, pictures, recipe, runs
from common.beyond_course.checkpoint import predict_command
from common.beyond_course.fastdata import TensorBatches, as_uint8_tensors
from common.beyond_course.models import ARCHS, build_model
from common.beyond_course.recipe import LABEL_SMOOTHING, RECIPES, improved_optimizer, random_crop_flip
from common.data import cifar10
from common.model import CIFAR10_CLASSES


def main():
    p = cli.parser(__doc__, data="pictures")
    cli.add_train_args(p, epochs="10 (course) / 24 (improved)",
                       batch_size="64, the global batch: each of N processes takes 64/N",
                       lr="0.01 (course) / 0.1 (improved)")
    p.add_argument("--recipe", choices=RECIPES, default=None,
                   help="course (default): the notes' model and SGD; improved: BatchNorm+ReLU, augmentation, "
                        "momentum, one-cycle schedule, label smoothing (beyond the course)")
    p.add_argument("--model", choices=ARCHS, default=None,
                   help="tudui (course), tudui_bn (improved) or resnet34 (note 004); default: the recipe's")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random crop + flip on the device (default: on with --recipe improved)")
    amp.add_speed_args(p)
    p.add_argument("--join-timeout", type=cli.positive_int, default=300, metavar="SECONDS",
                   help="how long to wait for the other processes to join before giving up (default 300)")
    args = p.parse_args()
    # DDP (1): join the other processes. torchrun tells each who it is in environment variables:
    # RANK (0 .. WORLD_SIZE-1, over all machines), LOCAL_RANK (on this machine), where they meet
    # (MASTER_ADDR, MASTER_PORT); init_process_group joins them. DDP (2): LOCAL_RANK picks this
    # process's GPU: process 0 of a machine takes GPU 0, process 1 GPU 1 ...
    job = distributed.start(args.device, args.join_timeout)
    rank, world_size, device = job.rank, job.world_size, job.device
    # beyond the course: the run's settings, folders and checkpoint, decided by rank 0 alone and sent
    # to the others (DDP (6)); an elastic restart (torchrun --max-restarts) continues from the newest
    run, shared = None, [None]
    if rank == 0:
        flags = distributed.restart_flags("train_ddp", cli.run_flags(args)) if job.restarted else cli.run_flags(args)
        run = runs.Run("train_ddp", recipe.defaults(args.recipe), **flags, launcher=job.launcher)
        run.settings.amp = amp.amp_precision(run.settings.amp, device)  # rank 0 decides for all
        shared = [dict(settings=vars(run.settings), checkpoint=run.checkpoint)]
    dist.broadcast_object_list(shared, src=0)
    s, resumed = SimpleNamespace(**shared[0]["settings"]), shared[0]["checkpoint"]
    torch.manual_seed(s.seed + rank)  # different random crops per process; DDP copies rank 0's weights

    # 定义训练的设备: DDP (2) above. (Only rank 0 prints: the others' output goes nowhere)
    print(f"device: {device} x {world_size} process(es), recipe: {s.recipe}, model: {s.model}, loader: {args.loader}")

    # 准备数据集 (see train_gpu.py). DDP: one process per machine downloads it (or decodes it for the
    # fast path) while the others wait at the barrier (no time limit: a download may be slow), then they read it
    if job.local_rank != 0:
        distributed.barrier()
    if s.data_root and not pictures.is_cifar10(s.data_root):
        train_data, test_data, classes = pictures.picture_data(s.data_root, limit=s.limit,
                                                               val_fraction=args.val_fraction)
    else:
        train_data = cifar10(s.data_root, train=True, transform=torchvision.transforms.ToTensor(),
                             download=not args.offline, limit=s.limit)
        test_data = cifar10(s.data_root, train=False, transform=torchvision.transforms.ToTensor(),
                            download=not args.offline, limit=s.limit)
        classes = CIFAR10_CLASSES
    if job.local_rank == 0:
        if args.loader == "fast":
            as_uint8_tensors(train_data), as_uint8_tensors(test_data)  # fills the decode cache for the others
        distributed.barrier()
    train_data_size, test_data_size = len(train_data), len(test_data)
    print(f"训练数据集的长度为: {train_data_size}, 测试数据集的长度为: {test_data_size}")
    if rank == 0:
        run.note_data(train_data)  # on the bundled sample: says what accuracy to expect, and why

    # 利用 DataLoader 加载数据集, or the fast path (see train_gpu.py). DDP (3): each process trains on
    # its own part of every epoch. --batch-size is the global batch, as in train_gpu.py: N processes
    # take batch/N images each, so 1 and N processes follow the same recipe. DistributedSampler gives
    # process r the shuffled indices r, r+N, ...; testing is split too (process r tests images r, r+N,
    # ...: each once), and the counts are summed below
    local_batch = max(1, s.batch_size // world_size)
    if rank == 0 and local_batch * world_size != s.batch_size:
        print(f"note: --batch-size {s.batch_size} over {world_size} processes: {local_batch} each, "
              f"{local_batch * world_size} in all", flush=True)
    sampler = DistributedSampler(train_data, num_replicas=world_size, rank=rank, shuffle=True, seed=s.seed)
    test_shard = Subset(test_data, range(rank, test_data_size, world_size))
    channels_last = args.channels_last and args.loader == "fast"
    if args.loader == "classic":
        train_dataloader = DataLoader(train_data, batch_size=local_batch, sampler=sampler)
        test_dataloader = DataLoader(test_shard, batch_size=local_batch)
    else:
        train_dataloader = TensorBatches(*as_uint8_tensors(train_data), local_batch, shuffle=False, device=device,
                                         channels_last=channels_last, sampler=sampler)
        test_dataloader = TensorBatches(*as_uint8_tensors(test_shard), 1000, shuffle=False, device=device,
                                        channels_last=channels_last)

    # 创建网络模型 (common/model.py: the course's Tudui; beyond_course/models.py: TuduiBN, resnet34)
    tudui = build_model(s.model, num_classes=len(classes))
    if s.recipe == "improved" and device.type != "cpu":
        # DDP (4): BatchNorm normalises over the batch; SyncBatchNorm uses the whole global batch,
        # not each process's share of it (GPUs only: on the CPU each process uses its own share)
        tudui = nn.SyncBatchNorm.convert_sync_batchnorm(tudui)
    tudui = tudui.to(device)
    # 损失函数 (label smoothing: --recipe improved)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING[s.recipe])
    loss_fn = loss_fn.to(device)
    # 优化器: the course's SGD; --recipe improved adds momentum, weight decay and a one-cycle schedule
    learning_rate = s.lr
    if s.recipe == "course":
        optimizer = torch.optim.SGD(tudui.parameters(), lr=learning_rate)
        scheduler = None
    else:
        optimizer, scheduler = improved_optimizer(tudui, learning_rate, s.epochs, len(train_dataloader))
    # beyond the course, --amp float16: GradScaler keeps small gradients from rounding to 0 (see train_gpu.py)
    scaler = torch.amp.GradScaler(device.type, enabled=s.amp == "float16")
    if resumed:  # --resume or a restart: every process loads the same state, and its own random numbers
        with runs.loading(resumed, "--resume"):
            tudui.load_state_dict(resumed["model"])
            optimizer.load_state_dict(resumed["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(resumed["scheduler"])
            distributed.restore_rng(resumed, rank, world_size, device, s.seed)
            if scaler.is_enabled():  # the factor the run had reached
                scaler.load_state_dict(resumed["scaler"])
        if scheduler is not None and scheduler.total_steps != s.epochs * len(train_dataloader):
            raise errors.LessonError(f"--resume: this one-cycle schedule was planned for {scheduler.total_steps} "
                                     f"steps; {s.epochs} epochs of {len(train_dataloader)} steps with {world_size} "
                                     "process(es) would stretch it (use the run's --epochs and process count, "
                                     "or start a new run)")

    # ---- beyond the course: speed (README "Speed"); none of it changes what is computed ----
    if channels_last:
        tudui = tudui.to(memory_format=torch.channels_last)  # NHWC: what CPU and GPU conv kernels prefer
    # DDP (5): wrap the model. DDP copies rank 0's weights to every process now, and after each
    # backward() it averages the gradients of all processes, while the backward still runs
    ddp_model = DistributedDataParallel(tudui, device_ids=[device.index] if device.type == "cuda" else None)
    step_fn = torch.compile(ddp_model) if args.compile else ddp_model
    # autocast runs convolutions and matmuls in the 16-bit float and keeps weights and loss in float32
    autocast = lambda: torch.autocast(device.type, dtype=getattr(torch, s.amp), enabled=s.amp != "float32")  # noqa: E731

    # 设置训练网络的一些参数 (the course's counters, continued when resuming)
    total_train_step = resumed["total_train_step"] if resumed else 0
    total_test_step = resumed["total_test_step"] if resumed else 0
    start_epoch, epoch = (resumed["epoch"] if resumed else 0), s.epochs
    log_every = min(100, len(train_dataloader))  # on a tiny --limit an epoch is shorter than 100 steps

    # 添加tensorboard: logs/train_ddp/<time>[_<what differs>]. DDP (6): only rank 0 writes curves,
    # progress bars and checkpoints
    writer = None
    if rank == 0:
        run.start()
        distributed.remember_run("train_ddp", run.logdir, run.checkpoint_dir)  # for a restart
        writer = SummaryWriter(run.logdir, purge_step=run.purge_step)

    test_accuracy = resumed.get("test_accuracy") if resumed else None
    ctrl_c = distributed.CtrlC(device)
    with run.stop_cleanly(writer) if rank == 0 else runs.silent_stop():
        for i in range(start_epoch, epoch):
            start = time.perf_counter()
            sampler.set_epoch(i)  # DDP (3): a new shuffle each epoch, the same one in every process
            # 训练步骤开始
            ddp_model.train()
            train_loss_sum = torch.zeros((), device=device)  # summed on the device: no GPU sync per step
            for imgs, targets in tqdm(train_dataloader, desc=f"epoch {i + 1}/{epoch}", leave=False,
                                      disable=None if rank == 0 else True):
                imgs = imgs.to(device)
                targets = targets.to(device)
                if s.augment:
                    imgs = random_crop_flip(imgs)
                with autocast():
                    outputs = step_fn(imgs)
                    loss = loss_fn(outputs, targets)

                # 优化器优化模型
                optimizer.zero_grad()
                scaler.scale(loss).backward()  # DDP (5): the gradients arrive averaged over all processes
                scaler.step(optimizer)
                scaler.update()
                if scheduler is not None:
                    scheduler.step()
                train_loss_sum += loss.detach() * len(targets)
                total_train_step = total_train_step + 1
                if rank == 0 and total_train_step % log_every == 0:
                    writer.add_scalar("train_loss", loss.item(), total_train_step)
                if total_train_step % 10 == 0 and ctrl_c.stop_now():  # DDP (8): all stop after the same step
                    raise KeyboardInterrupt

            # 测试步骤开始: each process tests its share with the weights rank 0 saves. BatchNorm's
            # running statistics are buffers each process updated on its own batches (not gradients,
            # which DDP averages): rank 0's are copied to all, so the accuracy is the checkpoint's
            for buffer in tudui.buffers():
                dist.broadcast(buffer, src=0)
            tudui.eval()
            sums = torch.zeros(4, dtype=torch.float64, device=device)  # test loss, correct, images, train loss
            with torch.no_grad():
                for imgs, targets in test_dataloader:
                    imgs = imgs.to(device)
                    targets = targets.to(device)
                    with autocast():
                        outputs = tudui(imgs).float()  # no gradients: the plain module is enough
                    sums[0] += F.cross_entropy(outputs, targets, reduction="sum")
                    sums[1] += (outputs.argmax(1) == targets).sum()
                    sums[2] += len(targets)
            sums[3] = train_loss_sum
            # DDP (7): all_reduce adds up the sums of all processes: every process knows the whole test set's
            dist.all_reduce(sums)
            test_loss, test_accuracy = (sums[0] / sums[2]).item(), (sums[1] / sums[2]).item()
            if rank == 0:  # DDP (6)
                writer.add_scalar("test_loss", test_loss, total_test_step)
                writer.add_scalar("test_accuracy", test_accuracy, total_test_step)
            total_test_step = total_test_step + 1

            # 保存每一轮的模型 (see train.py): tudui, not ddp_model: the weights without DDP's "module."
            # prefix, so predict.py, train_gpu.py --resume and any number of processes can load them
            train_loss = sums[3].item() / (len(sampler) * world_size)
            rng = distributed.rng_states(device)  # every process's random state (a collective: all call it)
            if rank == 0:  # DDP (6)
                path = run.checkpoint_dir / f"{s.model}_{i + 1}.pth"
                torch.save({"arch": s.model, "classes": list(classes), "model": tudui.state_dict(),
                            "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict() if scheduler else None, "scaler": scaler.state_dict(),
                            "epoch": i + 1, "total_train_step": total_train_step, "total_test_step": total_test_step,
                            "test_accuracy": test_accuracy, "train_loss": train_loss, "world_size": world_size,
                            "rng_state": torch.get_rng_state(), **rng, **run.record()}, path.with_suffix(".tmp"))
                os.replace(path.with_suffix(".tmp"), path)
                if s.model == "resnet34" and i > start_epoch:  # 85 MB each: keep only the newest
                    (run.checkpoint_dir / f"{s.model}_{i}.pth").unlink(missing_ok=True)
                print(f"epoch {i + 1}/{epoch}: train loss {train_loss:.4f} (epoch mean), test loss {test_loss:.4f}, "
                      f"test accuracy {test_accuracy:.4f} ({int(sums[2])} images, {world_size} process"
                      f"{'es' if world_size > 1 else ''}), {time.perf_counter() - start:.1f} s, saved {path.name}",
                      flush=True)
    if rank == 0:
        distributed.remember_run("train_ddp", run.logdir, run.checkpoint_dir, done=True)
        picture = None if classes is CIFAR10_CLASSES else pictures.files_of(test_data)[0]  # None: predict.py's dog
        print(f"next, the model on a picture: {predict_command(path, picture)}")
        print(f"final test accuracy: {test_accuracy:.4f}")
    dist.destroy_process_group()  # DDP (9): leave the group


if __name__ == "__main__":
    distributed.run(main)
