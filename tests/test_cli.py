"""Every script's flags: a complete --help, and one line for every bad path in English and in Chinese (a table
over all scripts)."""

import re
import textwrap

import pytest

from helpers import REPO, ZH, one_line_error

SCRIPTS = sorted(str(p.relative_to(REPO)) for p in REPO.glob("0*/*.py"))


def docstring_summary(script):
    text = (REPO / script).read_text(encoding="utf-8")
    doc = re.match(r'"""(.*?)"""', text, re.S).group(1)
    return " ".join(doc.strip().split("\n\n")[0].split())


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_starts_with_one_complete_sentence(run_script, script):
    res = run_script(script, "--help")
    assert res.returncode == 0 and not res.stderr, res
    usage_end = res.stdout.index("\n\n")
    description = re.split(r"\n(?:positional arguments|options):", res.stdout[usage_end:])[0].strip()
    summary = docstring_summary(script)
    # the whole first paragraph of the docstring, not a line cut mid-sentence
    assert " ".join(description.split()) == summary, res.stdout
    assert summary.endswith(".") and summary.count(". ") == 0, summary
    assert "Run:" in res.stdout  # the examples from the docstring close the help


def flags_of(help_text):
    return set(re.findall(r"^  (--[a-z-]+|[a-z]+)\b", help_text, re.M))


# What each path flag gets wrong, and the words its one-line error must contain.
def bad_values(tmp):
    a_file = tmp / "notes.txt"
    a_file.write_text("not what the flag wants")
    empty = tmp / "empty"
    empty.mkdir()
    out_dir = [
        (a_file, "is a file, not a folder"),
        (a_file / "sub", "is a file, so no folder can be made there"),
        ("/proc/lessons", "cannot write in /proc"),
    ]
    return {
        "--logdir": out_dir,
        "--checkpoint-dir": out_dir,
        "--hub-dir": out_dir,
        "--data-root": [(tmp / "nope", "does not exist"), (a_file, "is a file; give a folder"), (empty, "expected")],
        "--image": [(tmp / "nope.png", "does not exist"), (empty, "is a folder"), (a_file, "not an image")],
        "picture": [(tmp / "nope.png", "does not exist"), (empty, "is a folder"), (a_file, "not an image")],
        "--checkpoint": [
            (tmp / "nope.pth", "does not exist"),
            (empty, "is a folder"),
            (a_file, "not a PyTorch checkpoint"),
        ],
        "--resume": [
            (tmp / "nope.pth", "does not exist"),
            (empty, "no .pth file in that folder"),
            (a_file, "not a PyTorch checkpoint"),
        ],
    }


# The English lines this process has already seen said in Chinese (its temp folder as TMP): the scripts
# share common/paths.py, so most bad paths read the same in all of them; each line is run again in Chinese
# once per test process, whichever script said it first, not 35 times (~10 s)
PROVEN_IN_CHINESE = set()


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_path_flag_times_every_bad_value_is_one_line(run_script, tmp_path, script):
    flags = flags_of(run_script(script, "--help").stdout)
    table, failures = [], []
    for flag, cases in bad_values(tmp_path).items():
        if flag not in flags:
            continue
        for value, needle in cases:
            args = [value] if flag == "picture" else [flag, value]
            res = run_script(script, "--offline", *args) if "--offline" in flags else run_script(script, *args)
            lines = res.stderr.strip().splitlines()
            said = res.stderr.strip().replace(str(tmp_path), "TMP")
            try:  # and the same run in Chinese, in one Chinese line, unless this line was proven so already
                one_line_error(res, needle, zh_env=None if said in PROVEN_IN_CHINESE else ZH)
                PROVEN_IN_CHINESE.add(said)
                ok = True
            except AssertionError as failure:
                ok = False
                failures.append(str(failure))
            table.append(f"{flag:<17} {str(value):<45} {'ok' if ok else 'FAIL'}  {lines[-1] if lines else ''}")
    print(f"{script}:\n" + textwrap.indent("\n".join(table), "  "))
    assert not failures, "\n".join(table) + "\n" + "\n".join(failures)


def test_the_table_covers_every_path_flag_somewhere(run_script, tmp_path):
    seen = set()
    for script in ("08_train/train_gpu.py", "09_inference/predict.py", "06_pretrained/model_pretrained.py"):
        seen |= flags_of(run_script(script, "--help").stdout)
    assert set(bad_values(tmp_path)) <= seen


@pytest.mark.parametrize(
    "flag,value,says",
    [
        ("--batch-size", "abc", "argument --batch-size: must be a whole number above 0, got 'abc'"),
        ("--batch-size", "-64", "argument --batch-size: must be a whole number above 0, got '-64'"),
        ("--epochs", "0", "argument --epochs: must be a whole number above 0, got '0'"),
        ("--lr", "0", "argument --lr: must be a number above 0, got '0'"),
        ("--lr", "nan", "argument --lr: must be a number above 0, got 'nan'"),
    ],
)
def test_bad_numbers_say_what_is_wanted(run_script, flag, value, says):
    res = run_script("08_train/train_gpu.py", "--offline", flag, value)
    assert res.returncode == 2 and res.stderr.strip() == f"train_gpu.py: error: {says} (see --help)", res
    one_line_error(res, prefix="train_gpu.py: error: ")  # and in Chinese


@pytest.mark.parametrize("script", ["train.py", "train_gpu_1.py", "train_gpu.py", "train_ddp.py"])
def test_the_defaults_help_names_are_the_ones_a_run_takes(run_script, script):
    """--help's "(default ...)" for --epochs, --batch-size and --lr: the values of the recipes (recipe.RECIPES,
    what a run without the flag takes; the recipes' own test checks them against the README)."""
    from common.beyond_course.recipe import RECIPES

    text = " ".join(run_script(f"08_train/{script}", "--help").stdout.split())
    course, improved = RECIPES["course"], RECIPES["improved"]
    both = "--recipe" in text  # train.py and train_gpu_1.py: the course's values only
    for flag, key in (("--epochs", "epochs"), ("--batch-size", "batch_size"), ("--lr", "lr")):
        want = f"{course[key]:g}"
        if both and course[key] != improved[key]:
            want = f"{course[key]:g} (course) / {improved[key]:g} (improved)"
        assert re.search(rf"{flag} [A-Z_]+ [^()]*\(default {re.escape(want)}[,)]", text), (flag, want, text)
