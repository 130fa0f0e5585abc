"""Folders, anchored at the repository root.

The course writes to ``./dataset`` and ``./logs`` relative to wherever you
happen to start Python, so running a script from its own folder creates a
second copy of everything. Here every path hangs off the repository root, so
``python 08_train/train_gpu.py`` and ``cd 08_train && python train_gpu.py``
give the same result.

Set ``PYTORCH_LESSONS_HOME=/some/dir`` to put ``dataset/``, ``logs/`` and
``checkpoints/`` somewhere else (the tests use it to run in a temp folder).
"""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("PYTORCH_LESSONS_HOME", REPO_ROOT)).resolve()

DATASET_DIR = HOME / "dataset"          # the course's ./dataset (CIFAR-10 downloads here)
LOGS_DIR = HOME / "logs"                # tensorboard --logdir logs
CHECKPOINT_DIR = HOME / "checkpoints"   # model files written by the training scripts
SAVE_LOAD_DIR = CHECKPOINT_DIR / "07_save_load"  # lesson 07's method-1/2 demo files (untrained, not runs)

SAMPLES_DIR = REPO_ROOT / "common" / "samples"        # small real samples shipped with the repo
CIFAR10_SAMPLE = SAMPLES_DIR / "cifar10"              # ImageFolder layout: train|test/<class>/*.jpg
HYMENOPTERA_SAMPLE = SAMPLES_DIR / "hymenoptera_data"  # ants/bees, same layout as the official zip


def lesson_logdir(script_file, override=None):
    """TensorBoard folder for a lesson script: ``logs/<lesson folder>/<script name>``.

    One ``tensorboard --logdir logs`` then shows every lesson as its own run.
    """
    if override:
        return Path(override)
    script = Path(script_file).resolve()
    return LOGS_DIR / script.parent.name / script.stem
