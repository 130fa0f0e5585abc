"""The torchrun plumbing of 08_train/train_ddp.py that is not the DDP lesson itself.

The lesson (process group, ``LOCAL_RANK``, sampler, DDP wrap, rank-0 writes, ``all_reduce``)
stays in the script; ``start()`` is one call for the rest:

* the **device** (``choose_device``): ``LOCAL_RANK`` picks the GPU index, whatever ``--device``
  says (process 1 of a machine on ``cuda:1``); Apple's MPS has no collectives in gloo (and no
  float64), so it falls back to the CPU with one line;
* **joining** (``init_process_group`` in a store of our own): a backend the device can use, and
  a peer that never comes is one line after ``--join-timeout`` (launched by hand) instead of a
  hang. That timeout is the join's alone: the collectives keep PyTorch's default (30 min for gloo,
  10 for NCCL), and the wait while local rank 0 downloads the data is ``barrier``, which waits in
  the store without a time limit (a slow download is not a dead peer; a dead rank 0 takes its
  store with it, so the others stop too);
* **elastic restarts** (``torchrun --max-restarts``). By default torchrun shares its own store
  with the workers (pytorch/pytorch#128096) and creates it only on the first rendezvous
  (torch 2.14's ``dynamic_rendezvous.py``), so a restarted attempt finds the dead attempt's keys
  and gloo connects to dead processes, or waits (#135712). A key prefix per restart count is no
  cure: each machine's torchrun counts only its own restarts (#108158). So rank 0 of every
  attempt opens a new, empty store and leaves only its port in torchrun's (``_store``); a
  restarted process that first reads the dead attempt's port finds nobody there and reads again.
  (Upstream's switch, ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`` before torchrun, does the same
  from the agent: then rank 0 serves the store torchrun names, as when launched by hand.) A
  restart is told from a new job by the restart counts of all processes (a machine whose workers
  did not fail restarts without counting, so the largest), and it finds its run folder in a small
  file named by ``TORCHELASTIC_RUN_ID`` (the same for every attempt of a job; ``--rdzv-id``), not
  in torchrun's store, which upstream treats as something that should not outlive the workers;
* **one line, not N**: after joining, only rank 0 prints (the others' standard output goes to
  the null device), an ``error:`` the processes all hit is said by local rank 0 only, and a
  process whose peer died says so in one line, not an 18-line traceback (``run``); ``CtrlC``:
  every process stops after the same step.
"""

import datetime
import json
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.distributed as dist

from .. import paths
from ..cli import positive_int
from ..device import pick_device
from ..errors import LessonError, first_line
from ..errors import run as run_lesson
from .lang import _
from .runs import newest_checkpoint

_joined = False  # after init_process_group: errors are said once per machine (see run)
_FRESH_PORT = "lessons/train_ddp/store_port"  # in torchrun's store: the port of this attempt's own store
_store = None  # the store the processes joined in (start); barrier waits in it
_barriers = 0  # how many barriers this process has passed: each has its own key
_LOST = re.compile(r"Connection (reset|closed) by peer|Broken pipe|Connection refused")


def choose_device(requested, local_rank):
    """DDP (2): --device (or the accelerator, else the CPU) with LOCAL_RANK as the GPU index."""
    device = pick_device(requested)
    if device.type == "mps":  # gloo, the only backend on a Mac, moves no MPS tensors
        if local_rank == 0:
            print(_("note: Apple's GPU (mps) cannot exchange tensors between processes: using the CPU"), flush=True)
        return torch.device("cpu")
    if device.type != "cpu":
        device = torch.device(device.type, local_rank % torch.accelerator.device_count())
        torch.accelerator.set_device_index(device.index)
    return device


def add_join_timeout(p):
    """train_ddp.py's own flag: how long the processes wait for each other to start (not the data wait)."""
    p.add_argument(
        "--join-timeout",
        type=positive_int,
        default=300,
        metavar="SECONDS",
        help=_("how long to wait for the other processes to join before giving up (default 300)"),
    )
    return p


def start(requested_device, join_timeout):
    """DDP (1) + (2): this process's device, joined to the others. Returns a namespace with rank,
    world_size, local_rank, device, restarted (an elastic restart of this job) and launcher
    (the command that started it, for the resume hint)."""
    global _joined, _store
    env = os.environ
    env.setdefault("USE_LIBUV", "0" if sys.platform == "win32" else "1")  # Windows wheels: no libuv store
    local_rank = int(env.get("LOCAL_RANK", 0))
    device = choose_device(requested_device, local_rank)
    if "RANK" not in env:  # plain `python`: a world of one
        print(
            _("one process (world size 1); to use N devices: {command}").format(
                command=f"torchrun --standalone --nproc_per_node=N {paths.shell_arg(sys.argv[0])}"
            ),
            flush=True,
        )
    # nccl for NVIDIA GPUs, xccl for Intel's, gloo for the CPU, and for processes sharing one GPU
    # (nccl refuses that) or a build without NCCL (Windows)
    backend = dist.get_default_backend_for_device(device)
    if backend == "nccl" and (
        not dist.is_nccl_available() or int(env.get("LOCAL_WORLD_SIZE", 1)) > torch.cuda.device_count()
    ):
        backend = "gloo"
    rank, world_size = int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1))
    try:
        _store = connect(rank, world_size, datetime.timedelta(seconds=join_timeout))
        # no timeout here: the collectives keep PyTorch's default; --join-timeout was the store's
        dist.init_process_group(
            backend, store=_store, rank=rank, world_size=world_size, device_id=device if backend == "nccl" else None
        )
    except KeyError as exc:
        raise LessonError(
            _(
                "RANK is set but {name} is not: set MASTER_ADDR and MASTER_PORT too, or let torchrun set them all"
            ).format(name=exc)
        ) from None
    except (dist.DistError, OSError) as exc:  # a peer that never comes: one line, not a hang
        raise LessonError(
            _(
                "process {rank} of {n}: the others did not join within {s} s ({problem}); start every "
                "process (same MASTER_ADDR/MASTER_PORT) or raise --join-timeout"
            ).format(rank=rank, n=world_size, s=join_timeout, problem=first_line(exc)[:90])
        ) from None
    _joined = True
    if rank != 0:  # one voice per job: rank 0 says what happens (errors still reach stderr)
        sys.stdout = open(os.devnull, "w")  # open for the rest of the process
    # the largest restart count: only the machine whose worker failed counts its restart
    count = torch.tensor([int(env.get("TORCHELASTIC_RESTART_COUNT", 0))], device=device)
    dist.all_reduce(count, op=dist.ReduceOp.MAX)
    return SimpleNamespace(
        rank=rank,
        world_size=world_size,
        local_rank=local_rank,
        device=device,
        restarted=count.item() > 0,
        launcher=launcher(env, sys.argv[0]),
    )


def connect(rank, world_size, timeout):
    """The store the processes meet in, new for this attempt; every wait to join ends after ``timeout``.
    Launched by hand (or TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1): rank 0 serves it at MASTER_ADDR:MASTER_PORT
    and waits for the others. Under torchrun's own store, which outlives the workers: rank 0 opens a new
    one on a free port and leaves the port there; the others connect to it."""
    env = os.environ
    if "RANK" not in env:  # plain `python`: a world of one
        return dist.HashStore()
    host, port, libuv = env["MASTER_ADDR"], int(env["MASTER_PORT"]), env["USE_LIBUV"] == "1"
    if env.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return dist.TCPStore(host, port, world_size, is_master=rank == 0, timeout=timeout, use_libuv=libuv)
    agent = dist.TCPStore(host, port, world_size, is_master=False, timeout=timeout, use_libuv=libuv)
    if rank == 0:  # on the machine that serves torchrun's store, so at MASTER_ADDR too
        fresh = dist.TCPStore(
            host, 0, world_size, is_master=True, timeout=timeout, wait_for_workers=False, use_libuv=libuv
        )
        agent.set(_FRESH_PORT, str(fresh.port))
        return fresh
    deadline = time.monotonic() + timeout.total_seconds()
    while True:
        port = int(agent.get(_FRESH_PORT))  # after a restart, maybe the dead attempt's port, until rank 0 sets it
        try:
            socket.create_connection((host, port), timeout=1).close()  # anyone there? (quietly, before TCPStore)
            return dist.TCPStore(host, port, world_size, is_master=False, timeout=timeout, use_libuv=libuv)
        except (OSError, dist.DistError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def barrier():
    """``dist.barrier()`` without a time limit, for the wait while local rank 0 downloads the data:
    a collective would end the job after its timeout, however well the download goes. Every process
    counts itself in, in the store, and waits until all have; if rank 0 dies, its store goes too and
    the others stop (``run``: one line)."""
    global _barriers
    _barriers += 1
    key = f"lessons/barrier/{_barriers}"
    _store.add(key, 1)
    while True:
        if isinstance(_store, dist.TCPStore):  # rank 0 (the store) still there? A store call would say so
            try:  # in a 20-line C++ warning before its exception; a plain connection says it quietly
                socket.create_connection((_store.host, _store.port), timeout=30).close()
            except OSError as exc:
                raise RuntimeError(f"rank 0's store: {exc.strerror or exc}") from None
        if _store.add(key, 0) == dist.get_world_size():
            return
        time.sleep(0.2)


def launcher(env, script):
    """The command that started this job, for "resume with: ..."."""
    if "TORCHELASTIC_RUN_ID" not in env:
        return ["python", script]
    nproc = f"--nproc_per_node={env.get('LOCAL_WORLD_SIZE', 1)}"
    if int(env.get("GROUP_WORLD_SIZE", 1)) == 1:
        return ["torchrun", "--standalone", nproc, script]
    return [
        "torchrun",
        f"--nnodes={env['GROUP_WORLD_SIZE']}",
        nproc,
        "--rdzv-backend=c10d",
        "--rdzv-endpoint=HOST:PORT",
        f"--rdzv-id={env['TORCHELASTIC_RUN_ID']}",
        script,
    ]


def _job_file(name):
    job = re.sub(r"[^\w.-]", "_", os.environ.get("TORCHELASTIC_RUN_ID", "none"))
    return paths.CHECKPOINT_DIR / name / f".torchrun-{job}.json"


def restart_flags(name, flags):
    """Rank 0 of a restarted job: the run's own folders and newest checkpoint instead of ``flags``."""
    try:
        flags["logdir"], flags["checkpoint_dir"] = json.loads(_job_file(name).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # restarted before the run had folders: start it again
        print(_("elastic restart: starting the run again"), flush=True)
        return flags
    flags["resume"] = newest_checkpoint(flags["checkpoint_dir"])
    flags["overwrite"] = flags["resume"] is None  # died before its first checkpoint: start again in them
    print(
        _("elastic restart: continuing from {path}").format(path=flags["resume"])
        if flags["resume"]
        else _("elastic restart: starting the run again"),
        flush=True,
    )
    return flags


def remember_run(name, logdir, checkpoint_dir, done=False):
    """Rank 0: where this job's run lives, for a restart (``done``: the run ended, forget it)."""
    path = _job_file(name)
    if done:
        path.unlink(missing_ok=True)
    elif "TORCHELASTIC_RUN_ID" in os.environ:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([str(logdir), str(checkpoint_dir)]), encoding="utf-8")


def from_rank0(*objects):
    """DDP (6): rank 0's ``objects`` (the run's settings, its checkpoint), sent to every process."""
    shared = [objects]
    dist.broadcast_object_list(shared, src=0)
    return shared[0]


def local_batch(batch_size, world_size):
    """DDP (3): each process's share of the global --batch-size (said when it does not divide evenly)."""
    local = max(1, batch_size // world_size)
    if local * world_size != batch_size:
        print(
            _("note: --batch-size {batch} over {n} processes: {local} each, {total} in all").format(
                batch=batch_size, n=world_size, local=local, total=local * world_size
            ),
            flush=True,
        )
    return local


def rng_states(device):
    """Every process's random state (CPU, and its GPU's), for rank 0's checkpoint."""
    mine = (
        torch.get_rng_state(),
        None if device.type == "cpu" else torch.get_device_module(device).get_rng_state(device),
    )
    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)  # collective: every process calls it
    return {"rng_states": [cpu for cpu, _gpu in everyone], "device_rng_states": [gpu for _cpu, gpu in everyone]}


def restore_rng(checkpoint, rank, world_size, device, seed):
    """--resume: each process continues its own random numbers when the process count is the
    same; else each starts afresh from seed + rank (said once)."""
    states = checkpoint.get("rng_states") or [checkpoint["rng_state"]]  # train_gpu.py's: one process
    if len(states) != world_size:
        torch.manual_seed(seed + rank)
        if rank == 0:
            print(
                _(
                    "note: the checkpoint was saved by {saved} process(es), this run has {n}: each process draws new "
                    "random numbers (seed + rank)"
                ).format(saved=len(states), n=world_size),
                flush=True,
            )
        return
    torch.set_rng_state(states[rank])
    gpu = (checkpoint.get("device_rng_states") or [None] * world_size)[rank]
    if gpu is not None and device.type != "cpu":
        torch.get_device_module(device).set_rng_state(gpu, device)


class CtrlC:
    """DDP (8): under torchrun every process gets the Ctrl-C, but each would notice it at another
    point, and one that stops mid-step leaves the others waiting in a collective. So the signal
    only raises a flag, every few steps the processes compare flags, and all stop after the same
    step. A second Ctrl-C stops at once."""

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


def run(main):
    """``errors.run(main)`` for each process of a job: after joining, an ``error:`` every process
    hits is said by local rank 0 alone, and a peer that died (killed, out of memory) is one line
    from each survivor; torchrun --max-restarts then starts them all again."""

    def guarded():
        try:
            main()
            if int(os.environ.get("RANK", 0)) == 0:  # the run ended: a later job is not its restart
                remember_run(Path(sys.argv[0]).stem, None, None, done=True)
        except LessonError:
            if _joined and int(os.environ.get("LOCAL_RANK", 0)) != 0:
                raise SystemExit(2) from None
            raise
        except RuntimeError as exc:  # gloo's lost connection is a plain RuntimeError, NCCL's a DistError
            if not (_joined and (isinstance(exc, dist.DistError) or _LOST.search(str(exc)))):
                raise
            why = _LOST.search(str(exc))
            print(
                _(
                    "process {rank}: another process of the job stopped ({problem}); with --max-restarts torchrun "
                    "starts them all again"
                ).format(rank=os.environ["RANK"], problem=why[0] if why else first_line(exc)[:80]),
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(1) from None

    # hard_exit: a normal interpreter exit now and then aborts (SIGABRT) while gloo's threads still
    # free their last tensors; everything is saved and flushed by then, so the process just ends
    run_lesson(guarded, hard_exit=True)
