"""Stand-ins a test puts in a lesson's own process just before the script runs (helpers.run_forked(...,
before=hooks.NAME)), for what a test cannot otherwise control: the clock, the moment of a Ctrl-C, what
GradScaler multiplies the loss by, a progress bar where no one watches. Kept apart from helpers.py, which
sets LESSONS_LANG when imported."""

import itertools
import time

import torch


def quadratic_clock():
    """time.perf_counter()'s n-th call returns n * n / 2 seconds: from one call to the next, n + 0.5 s. So
    every time a script measures is exact in tenths, none is a whole number, and a later one is longer."""
    calls = itertools.count()
    time.perf_counter = lambda: next(calls) ** 2 / 2


def ctrl_c_in_the_second_save():
    """Ctrl-C while the second checkpoint is written: KeyboardInterrupt from the second torch.save."""
    real, calls = torch.save, []

    def save(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    torch.save = save


def record_loss_scale():
    """Each GradScaler.scale(loss): scaled / loss, one line in loss_scale.txt (1.0: the scaler is off)."""
    real = torch.amp.GradScaler.scale

    def scale(self, outputs):
        scaled = real(self, outputs)
        with open("loss_scale.txt", "a") as f:
            f.write(f"{(scaled.detach().float() / outputs.detach().float()).item()}\n")
        return scaled

    torch.amp.GradScaler.scale = scale


def progress_bars_shown():
    """tqdm's bars written to stderr even when it is a file, where tqdm(disable=None) would hide them."""
    import tqdm

    class Shown(tqdm.tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = False if kwargs.get("disable") is None else kwargs["disable"]
            super().__init__(*args, **kwargs)

    tqdm.tqdm = Shown
