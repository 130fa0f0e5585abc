"""08_train/train_ddp.py: the course loop under torchrun + DistributedDataParallel, on CPU over gloo."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from subprocess import PIPE

from common.beyond_course.checkpoint import model_from_checkpoint, read_checkpoint
from common.beyond_course.fastdata import as_uint8_tensors
from common.data import bundled_cifar10, limit_dataset

import pytest
import torch

from helpers import (
    REPO,
    assert_same_state,
    distributed_batches,
    free_port,
    lesson_env,
    max_change,
    one_line_error,
    read_events,
    reference_accuracy,
    sgd_reference,
    sigint_as_in_a_terminal,
)

SCRIPT = str(REPO / "08_train" / "train_ddp.py")
TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]
# --no-amp: float32, as the references these runs are compared with, whatever the default (recipe.AMP)
SMALL = ["--offline", "--limit", "64", "--batch-size", "16", "--epochs", "2", "--no-amp"]
# upstream's switch for a new store per attempt (common/beyond_course/distributed.py): the script makes one
# itself without it (the restart tests), and takes torchrun's when it is set (the fixture `three`)
AGENT_OWN_STORE = {"TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}
# the tests that find torchrun's workers in /proc and signal them (SIGKILL, a terminal's SIGINT to the group)
SIGNALS_WORKERS = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL") or not hasattr(os, "killpg") or not os.path.isdir("/proc"),
    reason="finds torchrun's workers in /proc and sends them POSIX signals (SIGKILL, SIGINT to the process "
    "group): Linux only; Windows has no SIGKILL, macOS no /proc",
)


def torchrun(home, *args, timeout=240, env=None):
    proc = subprocess.run(
        [*TORCHRUN, *map(str, args)],
        cwd=home,
        env=lesson_env(home, env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc


def only_run(home, kind):
    runs = list((home / kind / "train_ddp").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def evaluate(checkpoint, limit, loss=False):
    """Test accuracy (and loss) of a saved checkpoint, computed here in one process over the whole test set."""
    model = model_from_checkpoint(read_checkpoint(checkpoint)).eval()
    images, labels = as_uint8_tensors(limit_dataset(bundled_cifar10(train=False), limit))
    with torch.no_grad():
        outputs = model(images.float() / 255)
    accuracy = (outputs.argmax(1) == labels).float().mean().item()
    return (accuracy, torch.nn.functional.cross_entropy(outputs, labels).item()) if loss else accuracy


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """A small run with 2 processes under torchrun."""
    home = tmp_path_factory.mktemp("ddp2")
    return torchrun(home, "--standalone", "--nproc_per_node=2", SCRIPT, *SMALL), home


@pytest.mark.xdist_group("ddp")  # shares the module fixture `two`: one worker, one run
def test_smoke_ddp_two_processes_train_as_one_run(two):
    ran, home = two
    assert ran.returncode == 0, ran.stderr[-3000:]
    # rank 0 alone writes: one checkpoint folder, one TensorBoard run, one set of lines
    ck = only_run(home, "checkpoints")
    assert sorted(p.name for p in ck.iterdir()) == ["tudui_1.pth", "tudui_2.pth"]
    logs = only_run(home, "logs")
    assert len(list(logs.glob("events.out.tfevents.*"))) == 1
    acc = read_events(logs)
    assert [e.step for e in acc.Scalars("test_accuracy")] == [0, 1]
    assert ran.stdout.count("final test accuracy") == 1
    assert len(re.findall(r"^epoch \d/2: .*\(64 images, 2 processes\)", ran.stdout, re.M)) == 2
    # the accuracy the processes summed with all_reduce is the whole test set's, as one process computes it
    final = float(re.search(r"^final test accuracy: (\d\.\d{4})$", ran.stdout, re.M).group(1))
    assert final == pytest.approx(evaluate(ck / "tudui_2.pth", 64), abs=1e-4)
    saved = torch.load(ck / "tudui_2.pth", weights_only=True)
    assert saved["world_size"] == 2 and not any(k.startswith("module.") for k in saved["model"])
    # no progress bar in a log (stderr not a terminal: tqdm's disable=None), and none but rank 0's on a terminal
    assert "epoch 1/2:" not in ran.stderr, ran.stderr[-3000:]


@pytest.mark.xdist_group("ddp")  # shares the module fixture `two`: one worker, one run
def test_two_processes_take_the_same_steps_as_one(two):
    """DDP averages the gradients of the processes after every backward(). Each process takes
    16/2 = 8 images of every global batch of 16 (DistributedSampler: the same shuffle in both,
    process r takes positions r, r+2, ...), and its loss is the mean over its 8; the average of
    the two means is the mean over all 16, which is exactly the loss one process computes on
    the same 16 images. So the same start, the same gradients, the same SGD steps: the same
    weights as one process taking those steps, here the test's own (helpers.sgd_reference), up
    to the order in which floating-point sums are added (measured: 1e-8)."""
    ran, home = two
    assert ran.returncode == 0, ran.stderr[-3000:]
    a = torch.load(only_run(home, "checkpoints") / "tudui_2.pth", weights_only=True)
    assert a["total_train_step"] == 2 * 4  # 64 images / global batch 16
    initial, model, losses = sgd_reference(distributed_batches(64, 16, epochs=2), 64)
    want = model.state_dict()
    assert max_change(want, initial) > 1e-3  # 8 steps move the weights far beyond the tolerance
    assert max_change(a["model"], initial) > 1e-3  # so did the run's: it trained, from the seed-0 Tudui
    assert_same_state(a["model"], want, atol=1e-6, where="model")  # the same keys, both ways, the same values
    assert a["test_accuracy"] == pytest.approx(reference_accuracy(model, 64), abs=1e-9)
    # the epoch's mean training loss: each process's sum over its images, added up, over all 64 (4 equal steps)
    assert a["train_loss"] == pytest.approx(sum(losses[4:]) / 4, abs=1e-6)


@pytest.mark.xdist_group("ddp")  # shares the module fixture `two`: one worker, one run
def test_ddp_checkpoints_continue_anywhere(two, run_script, tmp_path):
    _, home = two
    ckpt = only_run(home, "checkpoints") / "tudui_2.pth"
    # predict.py reads it; train_gpu.py and a 1-process train_ddp.py continue it, with epoch 3 only
    assert run_script("09_inference/predict.py", "--checkpoint", ckpt).returncode == 0
    res = run_script(
        "08_train/train_gpu.py", "--offline", "--resume", ckpt, "--epochs", "3", "--checkpoint-dir", tmp_path / "gpu"
    )
    assert res.returncode == 0, res
    assert re.findall(r"^epoch (\d+)/3: ", res.stdout, re.M) == ["3"], res
    res = run_script(
        "08_train/train_ddp.py", "--offline", "--resume", ckpt, "--epochs", "3", "--checkpoint-dir", tmp_path / "ddp1"
    )
    assert res.returncode == 0 and "(64 images, 1 process)" in res.stdout, res
    assert re.findall(r"^epoch (\d+)/3: ", res.stdout, re.M) == ["3"], res


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """--recipe improved with 3 processes: 25 test pictures and a batch of 8, neither divisible by 3; torchrun
    told to give each attempt a new store itself (rank 0 then serves the store at MASTER_ADDR:MASTER_PORT)."""
    home = tmp_path_factory.mktemp("ddp3")
    return torchrun(
        home,
        "--standalone",
        "--nproc_per_node=3",
        SCRIPT,
        "--offline",
        "--limit",
        "25",
        "--batch-size",
        "8",
        "--epochs",
        "2",
        "--recipe",
        "improved",
        "--no-amp",
        env=AGENT_OWN_STORE,
    ), home


@pytest.mark.xdist_group("ddp")  # shares the module fixture `three`: one worker, one run
def test_three_processes_improved_recipe_report_the_saved_model(three):
    ran, home = three
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.count("CIFAR-10: not on disk (--offline)") == 1  # said once per job, not per process
    assert "--batch-size 8 over 3 processes: 2 each, 6 in all" in ran.stdout
    # 25 = 9 + 8 + 8 test pictures: each counted once; the printed loss and accuracy are the saved
    # model's, BatchNorm statistics included (each process updated its own; rank 0's are saved)
    printed = re.findall(
        r"^epoch 2/2: .*test loss (\d\.\d{4}), test accuracy (\d\.\d{4}) \(25 images, 3 processes\)", ran.stdout, re.M
    )
    assert len(printed) == 1, ran.stdout
    ck = only_run(home, "checkpoints") / "tudui_bn_2.pth"
    accuracy, loss = evaluate(ck, 25, loss=True)
    assert float(printed[0][0]) == pytest.approx(loss, abs=1.5e-4)
    assert float(printed[0][1]) == pytest.approx(accuracy, abs=1e-4)
    # every process's own random state (they draw different crops), for --resume
    states = torch.load(ck, weights_only=True)["rng_states"]
    assert len(states) == 3 and not torch.equal(states[0], states[1]) and not torch.equal(states[1], states[2])


@pytest.mark.xdist_group("ddp")  # shares the module fixture `three`: one worker, one run
def test_a_one_cycle_run_resumed_with_other_steps_is_one_line(three, run_script):
    """One-cycle plans its learning rate for a fixed number of steps. 3 processes took 5 steps an
    epoch (9 images each, 2 per step); one process would take 4 (25 images, 8 per step): the
    schedule would end early or, with more --epochs, step past its end (a traceback late in the
    run). Refused up front, in one line, as train_gpu.py does; a count with the same steps per
    epoch (a global batch divisible by both) continues."""
    _, home = three
    ck = only_run(home, "checkpoints")
    res = run_script(
        "08_train/train_ddp.py",
        "--offline",
        "--resume",
        ck / "tudui_bn_1.pth",
        "--checkpoint-dir",
        home / "other_count",
    )
    one_line_error(res, "one-cycle schedule was planned for 10 steps", "2 epochs of 4 steps with 1 process")
    res = run_script(
        "08_train/train_ddp.py",
        "--offline",
        "--resume",
        ck / "tudui_bn_2.pth",
        "--epochs",
        "3",
        "--checkpoint-dir",
        home / "more_epochs",
    )
    one_line_error(res, "one-cycle schedule was planned for 10 steps", "3 epochs")


def test_each_process_continues_its_own_random_numbers(capsys):
    from common.beyond_course.distributed import restore_rng

    cpu = torch.device("cpu")
    states = [torch.manual_seed(s).get_state() for s in (10, 11, 12)]
    restore_rng({"rng_states": states}, 1, 3, cpu, seed=0)
    assert torch.equal(torch.get_rng_state(), states[1])
    restore_rng({"rng_states": states}, 1, 2, cpu, seed=0)  # another process count: seed + rank, afresh
    assert torch.equal(torch.get_rng_state(), torch.manual_seed(1).get_state())
    restore_rng({"rng_states": states}, 0, 2, cpu, seed=0)
    assert capsys.readouterr().out.count("saved by 3 process(es), this run has 2") == 1


@pytest.fixture
def gpus(monkeypatch):
    """A machine with 4 GPUs of ``kind`` (torch.accelerator mocked): set gpus.kind."""
    gpus = type("Gpus", (), {"kind": "cuda", "chosen": []})()
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda: torch.device(gpus.kind))
    monkeypatch.setattr(torch.accelerator, "device_count", lambda: 4)
    monkeypatch.setattr(torch.accelerator, "set_device_index", gpus.chosen.append)
    return gpus


def test_local_rank_picks_the_gpu_whatever_device_says(gpus):
    from common.beyond_course.distributed import choose_device

    assert choose_device(None, 2) == torch.device("cuda", 2)
    assert choose_device("cuda", 3) == torch.device("cuda", 3)
    assert choose_device("cuda:1", 0) == torch.device("cuda", 0)  # not every process on cuda:1
    assert choose_device("cpu", 1) == torch.device("cpu")
    assert gpus.chosen == [2, 3, 0]


def test_apple_gpu_falls_back_to_the_cpu_in_one_line(gpus, capsys):
    from common.beyond_course.distributed import choose_device

    gpus.kind = "mps"
    assert choose_device(None, 0) == torch.device("cpu") and choose_device("mps", 1) == torch.device("cpu")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "mps" in out and "using the CPU" in out  # said by local rank 0 only


def test_the_resume_hint_is_the_command_that_started_the_job():
    from common.beyond_course.distributed import launcher

    one = {"TORCHELASTIC_RUN_ID": "x", "LOCAL_WORLD_SIZE": "2", "GROUP_WORLD_SIZE": "1"}
    assert launcher(one, "t.py") == ["torchrun", "--standalone", "--nproc_per_node=2", "t.py"]
    two = {"TORCHELASTIC_RUN_ID": "cifar", "LOCAL_WORLD_SIZE": "4", "GROUP_WORLD_SIZE": "2"}
    assert launcher(two, "t.py") == [
        "torchrun",
        "--nnodes=2",
        "--nproc_per_node=4",
        "--rdzv-backend=c10d",
        "--rdzv-endpoint=HOST:PORT",
        "--rdzv-id=cifar",
        "t.py",
    ]
    assert launcher({}, "t.py") == ["python", "t.py"]


def worker_pids(agent_pid):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == agent_pid:
                        pids.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return pids


@SIGNALS_WORKERS
def test_a_killed_worker_is_restarted_and_nothing_is_lost(tmp_path):
    """The README's two-machine command, both torchruns on one host (c10d numbers them, no --node-rank),
    --max-restarts and no variable set first. A worker of one of them is killed after epoch 1: both
    restart, but only that torchrun counts a restart, so their counts differ; a new store per attempt
    (not a prefix per restart count; rank 0 of each attempt opens it) still lets them meet again, and the
    largest count tells rank 0 it is a restart. They continue from the newest checkpoint, and the run must
    end where one never killed ends: the weights of the same SGD steps, taken here by the test itself
    (helpers.sgd_reference; 128 steps, measured 2.1e-5 apart: sums added in another order, grown over 128
    steps; a run never killed ends at the same weights bit for bit), while the steps move the weights by
    more than 1e-2. (One torchrun --standalone restarts the same way: the same rendezvous and stores.)"""
    endpoint, ck = f"127.0.0.1:{free_port()}", tmp_path / "ck"
    c10d = ["--nnodes=2", "--nproc_per_node=1", "--max-restarts=1", "--rdzv-backend=c10d", "--rdzv-id=lessons"]
    flags = ["--offline", "--limit", "128", "--batch-size", "4", "--epochs", "4", "--no-amp", "--checkpoint-dir", ck]
    node = [*TORCHRUN, *c10d, f"--rdzv-endpoint={endpoint}", SCRIPT, *flags, "--logdir", tmp_path / "tb"]
    # its own session: a failed test kills each torchrun with its workers (no job left running)
    start = dict(cwd=tmp_path, env=lesson_env(tmp_path), text=True, start_new_session=True)
    nodes = [subprocess.Popen(list(map(str, node)), stdout=PIPE, stderr=PIPE, **start) for _ in range(2)]
    try:
        deadline = time.time() + 120
        while not (ck / "tudui_1.pth").exists() and time.time() < deadline:
            time.sleep(0.01)
        victim = worker_pids(nodes[1].pid)
        assert len(victim) == 1 and not (ck / "tudui_4.pth").exists()
        os.kill(victim[0], signal.SIGKILL)  # a worker dies (out of memory, a crash ...)
        outs = [n.communicate(timeout=240) for n in nodes]
    finally:
        for n in nodes:
            if n.poll() is None:
                os.killpg(n.pid, signal.SIGKILL)
    for node, (_, err) in zip(nodes, outs, strict=True):
        assert node.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
    printed = "".join(out for out, _ in outs)
    assert printed.count("final test accuracy") == 1 and "(128 images, 2 processes)" in printed, printed
    restart = re.findall(r"^elastic restart: continuing from .*tudui_(\d)\.pth$", printed, re.M)
    assert len(restart) == 1, printed
    # every epoch ran once (rank 0, which prints them, may be on the other node after the restart)
    assert sorted(re.findall(r"^epoch (\d)/4: ", printed, re.M)) == ["1", "2", "3", "4"], printed
    assert sorted(p.name for p in ck.iterdir()) == [f"tudui_{i}.pth" for i in range(1, 5)]
    final = torch.load(ck / "tudui_4.pth", weights_only=True)
    assert final["epoch"] == 4 and final["total_train_step"] == 4 * 32  # 128 images / batch 4, every epoch once
    acc = read_events(tmp_path / "tb")
    assert [e.step for e in acc.Scalars("test_accuracy")] == list(range(4))  # no point twice, none missing
    initial, model, _ = sgd_reference(distributed_batches(128, 4, epochs=4), 128)
    assert max_change(model.state_dict(), initial) > 1e-2
    assert_same_state(final["model"], model.state_dict(), atol=1e-4, where="model")
    assert final["test_accuracy"] == pytest.approx(reference_accuracy(model, 128), abs=1e-9)


def test_a_peer_that_never_comes_is_one_line_within_the_timeout(run_script, tmp_path):
    env = {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "RANK": "0",
        "WORLD_SIZE": "2",
        "LOCAL_RANK": "0",
    }
    t = time.perf_counter()
    res = run_script("08_train/train_ddp.py", "--offline", "--join-timeout", "1", env=env)
    assert time.perf_counter() - t < 30
    one_line_error(res, "process 0 of 2: the others did not join within 1 s", "--join-timeout")


def test_a_peer_that_dies_is_one_line_from_the_survivor(run_script, tmp_path):
    """Two processes started by hand (no torchrun to stop the survivor first); process 1 is killed
    after the first epoch: process 0 says so in one line (not gloo's 18-line traceback), exit 1."""
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "WORLD_SIZE": "2"}
    args = ["--offline", "--limit", "24", "--batch-size", "6", "--epochs", "1000", "--checkpoint-dir", tmp_path / "ck"]
    peer_env = lesson_env(tmp_path, {**env, "RANK": "1", "LOCAL_RANK": "1"})
    peer = subprocess.Popen(
        [sys.executable, SCRIPT, *map(str, args)],
        cwd=tmp_path,
        env=peer_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def kill_after_the_first_epoch():
        deadline = time.time() + 120
        while not (tmp_path / "ck" / "tudui_1.pth").exists() and time.time() < deadline:
            time.sleep(0.01)
        peer.kill()

    threading.Thread(target=kill_after_the_first_epoch, daemon=True).start()
    res = run_script("08_train/train_ddp.py", *args, env={**env, "RANK": "0", "LOCAL_RANK": "0"})
    peer.wait(timeout=60)
    assert res.returncode == 1 and res.stderr.count("\n") == 1, res
    assert res.stderr.startswith("process 0: another process of the job stopped (Connection "), res


@SIGNALS_WORKERS
def test_ctrl_c_stops_every_process_and_says_how_to_resume_once(tmp_path):
    ck = tmp_path / "ck"
    proc = subprocess.Popen(
        [
            *TORCHRUN,
            "--standalone",
            "--nproc_per_node=2",
            SCRIPT,
            "--offline",
            "--limit",
            "512",
            "--batch-size",
            "8",
            "--epochs",
            "1000",
            "--checkpoint-dir",
            ck,
        ],
        cwd=tmp_path,
        env=lesson_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=sigint_as_in_a_terminal,
    )
    deadline = time.time() + 120
    while not (ck / "tudui_1.pth").exists() and time.time() < deadline:
        time.sleep(0.01)
    workers = worker_pids(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the signal to every process
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert err.count("resume with: torchrun --standalone --nproc_per_node=2 ") == 1, err[-3000:]
    assert "[rank0]: Traceback" not in err and "[rank1]: Traceback" not in err, err[-3000:]
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]  # every worker is gone
    assert (ck / "tudui_1.pth").is_file() and not list(ck.glob("*.tmp"))
