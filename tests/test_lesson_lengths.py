"""The lessons' weight, as issue 27 set it: a learner reads each script beside the video, so the course's
scripts stay about the course's length, the thin `common` layer stays thin, and the DDP lesson is the main
job plus the lines that make it distributed. Counted on the formatted code (CI runs `ruff format --check`)."""

import difflib

import pytest

from helpers import REPO

LIMITS = {
    "08_train/train.py": 120,
    "08_train/train_gpu_1.py": 130,  # train.py plus the .cuda() lines
    "08_train/train_gpu.py": 180,
    "04_nn_layers/nn_resnet.py": 160,  # its proofs are in tests/test_04_nn_layers.py
    "tests/conftest.py": 150,
}
LESSON_LIMIT = 200  # any other lesson script (train_ddp.py is held by its diff to train_gpu.py instead)


def lines(path):
    return (REPO / path).read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("path", sorted(LIMITS))
def test_the_scripts_the_issue_names_stay_within_their_length(path):
    assert len(lines(path)) <= LIMITS[path], f"{path}: {len(lines(path))} lines, the limit is {LIMITS[path]}"


def test_every_other_lesson_script_stays_within_200_lines():
    scripts = [p.relative_to(REPO).as_posix() for p in sorted(REPO.glob("0[1-9]_*/*.py"))]
    assert len(scripts) > 20
    over = {s: len(lines(s)) for s in scripts if s not in LIMITS and s != "08_train/train_ddp.py"}
    assert {s: n for s, n in over.items() if n > LESSON_LIMIT} == {}


def test_the_thin_layer_stays_within_700_lines():
    modules = sorted((REPO / "common").glob("*.py"))
    assert {m.name for m in modules} >= {"__init__.py", "model.py", "device.py", "data.py", "paths.py"}
    total = sum(len(m.read_text(encoding="utf-8").splitlines()) for m in modules)
    assert total <= 700, f"common/*.py: {total} lines, the limit is 700 (beyond the course: common/beyond_course/)"


def test_the_ddp_lesson_is_the_main_job_plus_at_most_100_changed_lines():
    # counted as `diff train_gpu.py train_ddp.py | grep -c '^[<>]'` counts (autojunk=False: a minimal diff)
    matcher = difflib.SequenceMatcher(None, lines("08_train/train_gpu.py"), lines("08_train/train_ddp.py"), False)
    changed = sum(i2 - i1 + j2 - j1 for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal")
    assert changed <= 100, f"diff train_gpu.py train_ddp.py: {changed} changed lines, the limit is 100"
