"""08_train/train_ddp.py joining: --join-timeout limits the join alone; each torchrun attempt meets in a new store."""

import functools
import http.server
import subprocess
import sys
import threading
import time

import pytest

from helpers import REPO, lesson_env

SCRIPT = str(REPO / "08_train" / "train_ddp.py")
JOIN_TIMEOUT = 6  # s: room for two processes that finish importing torch a few seconds apart on a busy machine
SLOW = 10  # s: how long the mirror takes over its first answer (rank 0's download), longer than JOIN_TIMEOUT


class _SlowMirror(http.server.BaseHTTPRequestHandler):
    """A CIFAR-10 mirror that is busy: the first request gets its "503 Service Unavailable" after SLOW
    seconds, later ones at once (the other process's second try: the scripts then take the bundled sample)."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.asked.append(time.monotonic())
        try:
            if len(self.server.asked) == 1:
                time.sleep(SLOW)
            self.send_error(503)
        except OSError:  # the job ended before the answer: what the test is about, asserted below
            pass
        self.server.answered.append(time.monotonic())

    def log_message(self, *args):
        pass


def test_a_rank_0_download_longer_than_the_join_timeout_does_not_stop_the_job(tmp_path):
    """While local rank 0 downloads CIFAR-10 (here: from a mirror that takes SLOW s to answer, then
    refuses, so the run goes on with the bundled sample), the other process waits. That wait is no
    part of joining: a download of any length must not end the job, as --join-timeout once did
    (it timed every collective: rank 1 died at the barrier with gloo's traceback)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_SlowMirror))
    server.asked, server.answered = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "CIFAR10_URL": f"http://127.0.0.1:{server.server_address[1]}/cifar-10-python.tar.gz",
        "no_proxy": "127.0.0.1",
        "NO_PROXY": "127.0.0.1",
    }
    try:
        ran = subprocess.run(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                "--nproc_per_node=2",
                SCRIPT,
                "--join-timeout",
                str(JOIN_TIMEOUT),
                "--limit",
                "8",
                "--batch-size",
                "8",
                "--epochs",
                "1",
                "--no-amp",
            ],
            cwd=tmp_path,
            env=lesson_env(tmp_path, env),
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert ran.returncode == 0, ran.stderr[-3000:]
    # the download really outlasted the join timeout: rank 0 asked first and waited SLOW s for the answer
    assert server.answered[0] - server.asked[0] > JOIN_TIMEOUT + 3, (server.asked, server.answered)
    assert "Traceback" not in ran.stderr, ran.stderr[-3000:]
    assert (
        ran.stdout.count("could not download CIFAR-10 (the server answered HTTP 503) -> using the bundled sample") == 1
    ), ran.stdout
    assert ran.stdout.count("final test accuracy") == 1 and "(8 images, 2 processes)" in ran.stdout, ran.stdout


def test_the_data_barrier_has_no_time_limit_and_ends_when_rank_0_dies(monkeypatch, capfd):
    """The wait for local rank 0's download outlasts every timeout the store has (here 0.5 s): the
    barrier returns once the last process (here: a thread after 1.5 s) has counted itself in. If
    rank 0, which serves the store, dies meanwhile, the wait ends at once, quietly (for ``run``'s one line)."""
    import datetime

    from common.beyond_course import distributed

    import torch.distributed as dist

    rank_0 = dist.TCPStore(
        "127.0.0.1", 0, 2, is_master=True, timeout=datetime.timedelta(seconds=0.5), wait_for_workers=False
    )
    store = dist.TCPStore("127.0.0.1", rank_0.port, 2, timeout=datetime.timedelta(seconds=0.5))
    monkeypatch.setattr(distributed, "_store", store)
    monkeypatch.setattr(distributed, "_barriers", 0)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    threading.Timer(1.5, rank_0.add, ("lessons/barrier/1", 1)).start()  # the downloader arrives
    start = time.monotonic()
    distributed.barrier()
    assert 1.5 <= time.monotonic() - start < 10
    alive = [rank_0]
    del rank_0
    threading.Timer(0.5, alive.clear).start()  # rank 0 dies during the next wait
    with pytest.raises(RuntimeError, match="^rank 0's store: Connection refused$"):
        distributed.barrier()
    assert capfd.readouterr().err == ""  # no C++ warning


def test_a_restarted_attempt_meets_in_a_new_store_even_when_rank_1_comes_first(monkeypatch):
    """torchrun's own store outlives its workers. After a restart, rank 1 may come first and read what
    the dead attempt left there (its store's port, gloo's addresses); it must wait for this attempt's
    rank 0 and meet it in a new, empty store. Two attempts of two ranks, played by threads."""
    import datetime

    from common.beyond_course import distributed

    import torch.distributed as dist

    agent = dist.TCPStore("127.0.0.1", 0, 1, is_master=True, wait_for_workers=False)  # torchrun's, for all attempts
    for name, value in {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(agent.port),
        "RANK": "0",
        "TORCHELASTIC_USE_AGENT_STORE": "True",
        "USE_LIBUV": "1",
    }.items():
        monkeypatch.setenv(name, value)
    timeout = datetime.timedelta(seconds=20)

    def attempt(rank_0_after):
        stores = {}
        ranks = [
            threading.Thread(target=lambda r=r: stores.update({r: distributed.connect(r, 2, timeout)})) for r in (1, 0)
        ]
        ranks[0].start()
        time.sleep(rank_0_after)
        ranks[1].start()
        for t in ranks:
            t.join(30)
        return stores

    first = attempt(0)
    first[0].set("gloo/rank_0", "the first attempt's address")
    assert first[1].get("gloo/rank_0") == b"the first attempt's address"  # the two met
    first.clear()  # the first attempt dies: its store (served by its rank 0) with it
    second = attempt(1.5)  # rank 1 reads the dead attempt's port first
    assert not second[1].check(["gloo/rank_0"]) and not second[0].check(["gloo/rank_0"])  # nothing stale
    second[0].set("gloo/rank_0", "the second attempt's address")
    assert second[1].get("gloo/rank_0") == b"the second attempt's address"
