"""The lesson after the course: ``--recipe improved`` (README "After the course").

Same three 5x5 convolutions and two linear layers as the course's Tudui, plus
what the course leaves out: BatchNorm + ReLU (``models.TuduiBN``), augmentation
on the device, SGD with Nesterov momentum and weight decay under a one-cycle
learning-rate schedule, and label smoothing. The course's own recipe stays
written out in the training scripts; this module only holds the additions.
"""

import argparse

import torch
from torch.nn import functional as F

from ..errors import LessonError
from .lang import _
from .models import ARCHS

RECIPES = {
    "course": {"model": "tudui", "epochs": 10, "batch_size": 64, "lr": 1e-2, "augment": False},
    "improved": {"model": "tudui_bn", "epochs": 24, "batch_size": 64, "lr": 0.1, "augment": True},
}


# --amp when left out: "float32" (autocast off: the course's numbers) or "auto" (the 16-bit float the
# device computes natively, float32 where there is none; README "Speed")
AMP = "float32"


def defaults(recipe=None):
    """The settings a run takes for the flags left out: the course's, with what --recipe changes.
    "recipe" stays "course": the baseline a run's folder name is compared with (..._improved)."""
    return {"recipe": "course", "seed": 0, "amp": AMP, **RECIPES[recipe or "course"]}


# What a run on the bundled sample (2,500 training images) reaches with the recipe's own settings, measured
# with seeds 0-2 (README): (what to expect, said to such a run; where it ends, named to a run that differs),
# and the same run on the full set
def expect_on_sample(recipe):
    """(what to expect, where it ends, the full set) for ``recipe``, in the learner's language."""
    if recipe == "course":
        return (
            _("a test accuracy near 0.10 (guessing) for the first 7 or so epochs and 0.13-0.24 after 10"),
            _("0.13-0.24 after 10 epochs"),
            _("about 0.57"),
        )
    return _("a test accuracy of about 0.6 after 24 epochs"), _("about 0.6 after 24 epochs"), _("about 0.83")


# the settings those runs were measured with; a run with another value of one of them was not measured
MEASURED_WITH = ["limit", "epochs", "batch_size", "lr", "model", "augment", "amp"]
LABEL_SMOOTHING = {"course": 0.0, "improved": 0.1}  # aim at 0.9 for the right class instead of 1.0


def add_recipe_args(p):
    """--recipe, --model and --augment (train_gpu.py, train_ddp.py); left out: the recipe's, or the resumed run's."""
    p.add_argument(
        "--recipe",
        choices=RECIPES,
        default=None,
        help=_(
            "course (default): the notes' model and SGD; improved: BatchNorm+ReLU, augmentation, "
            "momentum, one-cycle schedule, label smoothing (beyond the course)"
        ),
    )
    p.add_argument(
        "--model",
        choices=ARCHS,
        default=None,
        help=_("tudui (course), tudui_bn (improved) or resnet34 (note 004); default: the recipe's"),
    )
    p.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=_("random crop + flip on the device (default: on with --recipe improved)"),
    )
    return p


def check_schedule(scheduler, epochs, steps_per_epoch, processes=None):
    """--resume of --recipe improved: the one-cycle schedule cannot be stretched to other --epochs (or,
    with ``processes``, another process count: other steps per epoch)."""
    if scheduler is None or scheduler.total_steps == epochs * steps_per_epoch:
        return
    if processes is None:
        raise LessonError(
            _(
                "--resume: this one-cycle schedule was planned for {steps} steps; it cannot be stretched "
                "to other --epochs (start a new run)"
            ).format(steps=scheduler.total_steps)
        )
    raise LessonError(
        _(
            "--resume: this one-cycle schedule was planned for {steps} steps; {epochs} epochs of {per} "
            "steps with {processes} process(es) would stretch it (use the run's --epochs and process "
            "count, or start a new run)"
        ).format(steps=scheduler.total_steps, epochs=epochs, per=steps_per_epoch, processes=processes)
    )


def improved_optimizer(model, lr, epochs, steps_per_epoch):
    """SGD with Nesterov momentum and weight decay 5e-4; the rate warms up to ``lr``, then anneals, while
    the momentum goes the other way, 0.95 -> 0.85 -> 0.95 (OneCycleLR's own cycle: it replaces the 0.9)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch
    )
    return optimizer, scheduler


def random_crop_flip(x, pad=4):
    """Augmentation on the device, a whole batch at once: reflect-pad by ``pad``
    pixels, crop a random 32x32 window per image, flip half the images left-right."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy = torch.randint(0, 2 * pad + 1, (n, 1, 1, 1), device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n, 1, 1, 1), device=x.device)
    rows = (dy + torch.arange(h, device=x.device).view(1, 1, h, 1)).expand(n, c, h, w + 2 * pad)
    out = padded.gather(2, rows)
    cols = (dx + torch.arange(w, device=x.device).view(1, 1, 1, w)).expand(n, c, h, w)
    out = out.gather(3, cols)
    flip = torch.rand(n, 1, 1, 1, device=x.device) < 0.5
    return torch.where(flip, out.flip(3), out)
