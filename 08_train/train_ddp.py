"""利用多个GPU训练: the course's CIFAR-10 training on every GPU of one or more machines, with DDP.

The lesson after course P31 利用GPU训练（二）, beyond the course. torchrun starts one
process per device; every process runs this same script on its own part of
the data, and after each backward() DDP averages the gradients of all
processes, so every copy of the model takes the same step. The loop is
train_gpu.py's; the lines that make it distributed are marked "DDP (n)".
Without a GPU it runs too: processes on the CPU talk over gloo.

Run:     torchrun --standalone --nproc_per_node=gpu 08_train/train_ddp.py   (every GPU here, NCCL)
CPU:     torchrun --standalone --nproc_per_node=2 08_train/train_ddp.py     (2 processes, gloo)
Nodes:   torchrun --nnodes=2 --node-rank=R --rdzv-backend=c10d --rdzv-endpoint=HOST:29500 \\
             --nproc_per_node=gpu 08_train/train_ddp.py                     (on each machine, R = 0, 1)
One:     python 08_train/train_ddp.py                                        (one process; says how to start more)
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # lets `import common` work from any folder
import common  # noqa: F401  (first: a Ctrl-C while torch loads then ends in one line)

# isort: split
import datetime
import json
import os
import signal
import socket
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

from common import cli, errors, recipe, training
from common.data import cifar10
from common.device import check_device
from common.fastdata import TensorBatches, as_uint8_tensors
from common.model import ARCHS, build_model
from common.recipe import LABEL_SMOOTHING, RECIPES, improved_optimizer, random_crop_flip

RUN_KEY = "train_ddp/run"  # where rank 0 leaves its run folder for restarted workers (in torchrun's store)
GROUP_STORE_KEY = "train_ddp/group_store"  # the port of this attempt's store (see fresh_store())
# Windows wheels are built without libuv, the default TCPStore server: USE_LIBUV=0 (as torchrun reads it)
LIBUV = os.environ.get("USE_LIBUV", "0" if sys.platform == "win32" else "1") == "1"


def join(device, join_timeout):
    """DDP (1): join the other processes. Returns (rank, world_size, torchrun's store).

    torchrun tells each process who it is in environment variables: RANK (0 .. WORLD_SIZE-1,
    over all machines), LOCAL_RANK (on this machine) and where the others meet (MASTER_ADDR,
    MASTER_PORT: a key-value store). Started with plain `python`, there are no others: a world of one.
    """
    timeout = datetime.timedelta(seconds=join_timeout)
    if "RANK" not in os.environ:
        print("one process (world size 1); to use N devices: torchrun --standalone --nproc_per_node=N "
              f"{sys.argv[0]}", flush=True)
        rank, world_size = 0, 1
        store = group_store = dist.HashStore()
    else:
        rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        # torchrun serves the store itself (TORCHELASTIC_USE_AGENT_STORE); launched by hand, rank 0 does
        agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
        try:
            store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world_size,
                                  is_master=rank == 0 and not agent, timeout=timeout, wait_for_workers=not agent,
                                  use_libuv=LIBUV)
            group_store = fresh_store(store, rank, world_size, timeout) if agent else store
        except KeyError as exc:
            raise errors.LessonError(f"RANK is set but {exc} is not: set MASTER_ADDR and MASTER_PORT too, "
                                     "or let torchrun set them all") from None
        except (dist.DistError, OSError) as exc:  # a peer that never comes: one line, not a hang
            raise errors.LessonError(
                f"process {rank} of {world_size}: the others did not join within {join_timeout} s "
                f"({errors.first_line(exc)[:90]}); start every process (same MASTER_ADDR/MASTER_PORT) "
                "or raise --join-timeout") from None
    # the backend that moves tensors between processes: nccl for NVIDIA GPUs, xccl for Intel's,
    # gloo for the CPU (and for processes sharing one GPU, which nccl refuses)
    backend = dist.get_default_backend_for_device(device)
    if backend == "nccl" and (not dist.is_nccl_available()  # Windows wheels have no NCCL
                              or int(os.environ.get("LOCAL_WORLD_SIZE", 1)) > torch.cuda.device_count()):
        backend = "gloo"
    dist.init_process_group(backend, store=group_store, rank=rank, world_size=world_size)
    return rank, world_size, store


def fresh_store(store, rank, world_size, timeout):
    """The store the processes set up gloo/NCCL in: a new, empty one for every attempt.

    torchrun's own store outlives the workers. When one dies and torchrun restarts them all
    (--max-restarts), it still holds the dead attempt's keys, and gloo then reads the dead
    processes' addresses: "Connection refused", or a long wait. So rank 0 of each attempt opens
    a new store and leaves only its port in torchrun's. (A key prefix per restart count is not
    enough: with several machines, each torchrun counts its own restarts.) A restarted process
    may first read the dead attempt's port; nothing answers there any more, so it asks again.
    """
    host = os.environ["MASTER_ADDR"]  # machine 0 runs torchrun's store, and rank 0
    if rank == 0:
        fresh = dist.TCPStore(host, 0, world_size, is_master=True, timeout=timeout, wait_for_workers=False,
                              use_libuv=LIBUV)
        store.set(GROUP_STORE_KEY, str(fresh.port))
        return fresh
    deadline = time.monotonic() + timeout.total_seconds()
    while True:
        port = int(store.get(GROUP_STORE_KEY))
        try:
            socket.create_connection((host, port), timeout=1).close()  # anyone there? (quietly)
            return dist.TCPStore(host, port, world_size, is_master=False, timeout=timeout, use_libuv=LIBUV)
        except (OSError, dist.DistError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class CtrlC:
    """DDP (8): under torchrun every process gets the Ctrl-C, but each would notice it at another
    point, and one that stops mid-step leaves the others waiting in a collective (or failing with
    "Connection closed by peer"). So the signal only raises a flag, every few steps the processes
    compare flags, and all stop after the same step. A second Ctrl-C stops at once."""

    def __init__(self, device):
        self.asked, self.device = False, device
        signal.signal(signal.SIGINT, self._asked)

    def _asked(self, signum, frame):
        self.asked = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def stop_now(self):
        votes = torch.tensor([float(self.asked)], device=self.device)
        dist.all_reduce(votes, op=dist.ReduceOp.MAX)  # one process asked: all stop
        return votes.item() > 0


def main():
    p = cli.parser(__doc__)
    cli.add_train_args(p, epochs="10 (course) / 24 (improved)",
                       batch_size="64, the global batch: each of N processes takes 64/N",
                       lr="0.01 (course) / 0.1 (improved)")
    p.add_argument("--recipe", choices=RECIPES, default=None, help="course (default) or improved (see train_gpu.py)")
    p.add_argument("--model", choices=ARCHS, default=None, help="default: the recipe's")
    cli.add_speed_args(p)
    p.add_argument("--join-timeout", type=cli.positive_int, default=300, metavar="SECONDS",
                   help="how long to wait for the other processes to join before giving up (default 300)")
    args = p.parse_args()

    # DDP (2): LOCAL_RANK picks this process's device: process 0 of a machine takes GPU 0, process 1 GPU 1 ...
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if args.device:
        device = check_device(args.device)
    elif torch.accelerator.is_available():
        device = torch.device(torch.accelerator.current_accelerator().type,
                              local_rank % torch.accelerator.device_count())
        torch.accelerator.set_device_index(device.index)
    else:
        device = torch.device("cpu")
    rank, world_size, store = join(device, args.join_timeout)
    try:
        train(args, device, rank, world_size, store)
    finally:
        dist.destroy_process_group()  # DDP (9): leave the group


def train(args, device, rank, world_size, store):
    # Only rank 0 decides the run (settings, folders, --resume) and tells the others. A restarted
    # attempt (torchrun --max-restarts) continues from the newest checkpoint of the same run.
    run, shared = None, [None]
    if rank == 0:
        flags = cli.run_flags(args)
        # torchrun's store lives as long as the job: a run folder in it means this is a restart
        # (whatever this machine's TORCHELASTIC_RESTART_COUNT says: a machine whose workers did
        # not fail is restarted without counting)
        if store.check([RUN_KEY]):
            flags["logdir"], flags["checkpoint_dir"] = json.loads(store.get(RUN_KEY))  # this run's own folders
            flags["resume"] = training.newest_checkpoint(flags["checkpoint_dir"])
            flags["overwrite"] = flags["resume"] is None  # died before its first checkpoint: start again in them
            print("elastic restart: " + (f"continuing from {flags['resume']}" if flags["resume"]
                                         else "starting the run again"), flush=True)
        launcher = ["torchrun", "--standalone", f"--nproc_per_node={world_size}", sys.argv[0]]
        run = training.Run("train_ddp", recipe.defaults(args.recipe), **flags, launcher=launcher)
        shared = [dict(settings=vars(run.settings), checkpoint=run.checkpoint)]
    dist.broadcast_object_list(shared, src=0)  # the same settings (and resumed state) everywhere
    s = SimpleNamespace(**shared[0]["settings"])
    resumed = shared[0]["checkpoint"]
    torch.manual_seed(s.seed + rank)  # different random crops per process; DDP copies rank 0's weights

    # 准备数据集: one process per machine downloads it (or decodes it for the fast path), the others wait
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if local_rank != 0:
        dist.barrier()
    train_data = cifar10(s.data_root, train=True, transform=torchvision.transforms.ToTensor(),
                         download=not args.offline, limit=s.limit)
    test_data = cifar10(s.data_root, train=False, transform=torchvision.transforms.ToTensor(),
                        download=not args.offline, limit=s.limit)
    if args.loader == "fast":
        as_uint8_tensors(train_data), as_uint8_tensors(test_data)  # fills the decode cache for the others
    if local_rank == 0:
        dist.barrier()
    train_data_size, test_data_size = len(train_data), len(test_data)
    if rank == 0:
        print(f"训练数据集的长度为: {train_data_size}, 测试数据集的长度为: {test_data_size}")
        run.note_data(train_data)

    # DDP (3): each process trains on its own part of every epoch. --batch-size is the global
    # batch, as in train_gpu.py: N processes take batch/N images each, so 1 and N processes
    # follow the same recipe. DistributedSampler gives process r the shuffled indices r, r+N, ...
    local_batch = max(1, s.batch_size // world_size)
    if rank == 0 and local_batch * world_size != s.batch_size:
        print(f"note: --batch-size {s.batch_size} over {world_size} processes: {local_batch} each, "
              f"{local_batch * world_size} in all", flush=True)
    sampler = DistributedSampler(train_data, num_replicas=world_size, rank=rank, shuffle=True, seed=s.seed)
    # testing is split too (process r tests images r, r+N, ...); the counts are summed below
    test_shard = Subset(test_data, range(rank, test_data_size, world_size))
    channels_last = args.channels_last and args.loader == "fast"
    if args.loader == "classic":
        train_dataloader = DataLoader(train_data, batch_size=local_batch, sampler=sampler)
        test_dataloader = DataLoader(test_shard, batch_size=local_batch)
    else:  # the fast path (see train_gpu.py), in the order the same sampler picks
        train_dataloader = TensorBatches(*as_uint8_tensors(train_data), local_batch, shuffle=False, device=device,
                                         channels_last=channels_last, sampler=sampler)
        test_dataloader = TensorBatches(*as_uint8_tensors(test_shard), 1000, shuffle=False, device=device,
                                        channels_last=channels_last)

    # 创建网络模型
    tudui = build_model(s.model)
    if s.recipe == "improved" and device.type != "cpu":
        # DDP (4): BatchNorm normalises over the batch; SyncBatchNorm uses the whole global batch,
        # not each process's share of it (GPUs only: on the CPU each process uses its own share)
        tudui = nn.SyncBatchNorm.convert_sync_batchnorm(tudui)
    tudui = tudui.to(device)
    if channels_last:
        tudui = tudui.to(memory_format=torch.channels_last)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING[s.recipe]).to(device)
    if s.recipe == "course":
        optimizer = torch.optim.SGD(tudui.parameters(), lr=s.lr)
        scheduler = None
    else:
        optimizer, scheduler = improved_optimizer(tudui, s.lr, s.epochs, len(train_dataloader))
    if resumed is not None:  # --resume or a restart: every process loads the same state
        with training.loading(resumed, "--resume"):
            tudui.load_state_dict(resumed["model"])
            optimizer.load_state_dict(resumed["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(resumed["scheduler"])
            torch.set_rng_state(resumed["rng_state"])
    # DDP (5): wrap the model. DDP copies rank 0's weights to every process now, and after each
    # backward() it averages the gradients of all processes, while the backward still runs
    ddp_model = DistributedDataParallel(tudui, device_ids=[device.index] if device.type == "cuda" else None)
    step_fn = torch.compile(ddp_model) if args.compile else ddp_model
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=s.amp)  # noqa: E731

    total_train_step = resumed["total_train_step"] if resumed else 0
    total_test_step = resumed["total_test_step"] if resumed else 0
    start_epoch, epoch = (resumed["epoch"] if resumed else 0), s.epochs
    log_every = min(100, len(train_dataloader))

    # 添加tensorboard -- DDP (6): only rank 0 writes curves, progress bars and checkpoints
    writer = None
    if rank == 0:
        run.start()
        store.set(RUN_KEY, json.dumps([str(run.logdir), str(run.checkpoint_dir)]))
        writer = SummaryWriter(run.logdir, purge_step=run.purge_step)
    test_accuracy = resumed.get("test_accuracy") if resumed else None
    ctrl_c = CtrlC(device)
    with run.stop_cleanly(writer) if rank == 0 else training.silent_stop():
        for i in range(start_epoch, epoch):
            start = time.perf_counter()
            sampler.set_epoch(i)  # DDP (3): a new shuffle each epoch, the same one in every process
            # 训练步骤开始
            ddp_model.train()
            train_loss_sum = torch.zeros((), device=device)
            for imgs, targets in tqdm(train_dataloader, desc=f"epoch {i + 1}/{epoch}", leave=False,
                                      disable=None if rank == 0 else True):
                imgs = imgs.to(device)
                targets = targets.to(device)
                if s.augment:
                    imgs = random_crop_flip(imgs)
                with autocast():
                    outputs = step_fn(imgs)
                    loss = loss_fn(outputs, targets)
                optimizer.zero_grad()
                loss.backward()  # DDP (5): the gradients arrive averaged over all processes
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                train_loss_sum += loss.detach() * len(targets)
                total_train_step = total_train_step + 1
                if rank == 0 and total_train_step % log_every == 0:
                    writer.add_scalar("train_loss", loss.item(), total_train_step)
                if total_train_step % 10 == 0 and ctrl_c.stop_now():  # DDP (8)
                    raise KeyboardInterrupt

            # 测试步骤开始: each process tests its share ...
            ddp_model.eval()
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
            # DDP (7): ... and all_reduce adds up the sums of all processes, so every process
            # knows the accuracy over the whole test set
            dist.all_reduce(sums)
            test_loss, test_accuracy = (sums[0] / sums[2]).item(), (sums[1] / sums[2]).item()
            train_loss = sums[3].item() / (len(sampler) * world_size)
            total_test_step = total_test_step + 1
            if rank == 0:  # DDP (6)
                writer.add_scalar("test_loss", test_loss, total_test_step - 1)
                writer.add_scalar("test_accuracy", test_accuracy, total_test_step - 1)
                # 保存每一轮的模型: tudui, not ddp_model: the weights without DDP's "module." prefix,
                # so predict.py, train_gpu.py --resume and any number of processes can load them
                path = run.checkpoint_dir / f"{s.model}_{i + 1}.pth"
                torch.save({"arch": s.model, "model": tudui.state_dict(), "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict() if scheduler else None,
                            "epoch": i + 1, "total_train_step": total_train_step, "total_test_step": total_test_step,
                            "test_accuracy": test_accuracy, "train_loss": train_loss, "world_size": world_size,
                            "rng_state": torch.get_rng_state(), **run.record()}, path.with_suffix(".tmp"))
                os.replace(path.with_suffix(".tmp"), path)
                print(f"epoch {i + 1}/{epoch}: train loss {train_loss:.4f} (epoch mean), test loss {test_loss:.4f}, "
                      f"test accuracy {test_accuracy:.4f} ({int(sums[2])} images, {world_size} process"
                      f"{'es' if world_size > 1 else ''}), "
                      f"{time.perf_counter() - start:.1f} s, saved {path.name}", flush=True)
    if rank == 0:
        print(f"final test accuracy: {test_accuracy:.4f}")


if __name__ == "__main__":
    # hard_exit: a normal interpreter exit now and then aborts (SIGABRT) while gloo's threads still
    # free their last tensors; everything is saved and flushed by then, so the process just ends
    errors.run(main, hard_exit=True)
