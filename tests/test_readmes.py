"""The READMEs say what is true of the repository: every script is named in its folder's README in both
languages, every relative link resolves, every command they print runs the way they print it, the root
READMEs stay short and start where a learner starts, and no learner's page carries development history.
The two root READMEs may be organised differently, each for its own readers; only what they must both
say is compared."""

import argparse
import contextlib
import io
import re
import runpy
import shlex
import textwrap

import pytest

from helpers import REPO

EN, ZH = (REPO / "README.md").read_text(encoding="utf-8"), (REPO / "README.zh-CN.md").read_text(encoding="utf-8")
ROOT = {"README.md": EN, "README.zh-CN.md": ZH}
LESSONS = sorted(p for p in REPO.glob("0*_*") if p.is_dir())
READMES = sorted({*REPO.glob("README*.md"), *REPO.glob("0*_*/README*.md")})
PAGES = sorted({*READMES, *REPO.glob("*.md"), REPO / "tests" / "README.md"})
SIZE_LIMIT = {"README.md": 20_000, "README.zh-CN.md": 24_000}
FIRST_COMMANDS = [
    "python 01_dataset/install_check.py",
    "python 01_dataset/read_data.py",
    "python 02_tensorboard/P8_Tensorboard.py",
    "tensorboard --logdir logs",
]
# a command that runs a lesson: python (or a notebook's !python, or torchrun with its own flags) + a script
COMMAND = re.compile(r"(?<![\w./-])!?(?:python3?|torchrun(?: +--?[\w-]+(?:=\S+)?)*) +(\S+\.py)\b(.*)")


def text(path):
    return path.read_text(encoding="utf-8")


def name(path):
    return str(path.relative_to(REPO))


def code_blocks(markdown):
    """The fenced code blocks of ``markdown`` (a block indented in a list item: dedented)."""
    return [textwrap.dedent(b) for b in re.findall(r"```[\w-]*\n(.*?)```", markdown, re.S)]


def inline_code(markdown):
    return set(re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", markdown, flags=re.S)))


def section(markdown, heading):
    """The text under the heading line starting with ``heading`` (e.g. "### Slow or blocked download"), up
    to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    m = re.search(rf"^{re.escape(heading)}.*?$(.*?)(?=^#{{1,{level}}} |\Z)", markdown, re.M | re.S)
    assert m, f"no heading {heading!r}"
    return m.group(1)


# ---- every script is named where a learner looks for it ----------------------------------------------


@pytest.mark.parametrize("folder", LESSONS, ids=lambda p: p.name)
def test_every_lesson_folder_has_a_readme_in_each_language_naming_every_script(folder):
    scripts = sorted(p.name for p in folder.glob("*.py"))
    assert scripts, folder
    for readme in ("README.md", "README.zh-CN.md"):
        assert (folder / readme).is_file(), f"{folder.name}/{readme} is missing"
        named = set(re.findall(r"`(\w+\.py)`", text(folder / readme)))
        missing = [s for s in scripts if s not in named]
        assert not missing, f"{folder.name}/{readme} does not name {missing}"


def test_both_root_readmes_link_to_each_other_at_the_top():
    assert "(README.zh-CN.md)" in EN[:400] and "(README.md)" in ZH[:400]


@pytest.mark.parametrize("readme", ROOT)
def test_the_lesson_map_gives_a_command_for_every_script(readme):
    rows = [line for line in ROOT[readme].splitlines() if line.startswith("| ") and "](0" in line]  # a folder link
    mapped = [COMMAND.search(row).group(1) for row in rows if COMMAND.search(row)]
    scripts = sorted(name(p) for p in REPO.glob("0*_*/*.py"))
    assert sorted(mapped) == scripts, f"{readme}'s lesson map: missing {sorted(set(scripts) - set(mapped))}"


@pytest.mark.parametrize("readme", ROOT)
def test_everything_a_beginner_needs_is_one_link_from_the_root_readme(readme):
    links = set(re.findall(r"\]\(([^)#\s]+)", ROOT[readme]))
    lang = "README.zh-CN.md" if "zh" in readme else "README.md"
    wanted = {f"{f.name}/{lang}" for f in LESSONS} | {
        "NOTE_COVERAGE.md",
        "tests/README.md",
        "ERRORS.zh-CN.md" if "zh" in readme else "ERRORS.md",
    }
    assert wanted <= links, f"{readme} does not link to {sorted(wanted - links)}"


# ---- the root READMEs: short, and the first commands are the first lessons ----------------------------


@pytest.mark.parametrize("readme", ROOT)
def test_the_root_readme_is_short_and_its_first_python_command_is_lesson_01(readme):
    body = ROOT[readme]
    size = len(body.encode("utf-8"))
    assert size <= SIZE_LIMIT[readme], f"{readme}: {size:,} bytes, over {SIZE_LIMIT[readme]:,}"
    first = re.search(r"(?<![\w./-])python3? +(\S+)", body)
    assert first and first.group(1).startswith("01_dataset/") and (REPO / first.group(1)).is_file(), first
    assert len(body[: first.start()].encode("utf-8")) < 8_000, f"{readme}: the first python command is too far down"


@pytest.mark.parametrize("readme", ROOT)
def test_after_p1_to_p10_the_first_commands_are_the_first_lessons_one_per_line(readme):
    title = next(h for h in re.findall(r"^## (.*)$", ROOT[readme], re.M) if "P1–P10" in h)
    block = code_blocks(section(ROOT[readme], f"## {title}"))[0]
    assert block.splitlines()[: len(FIRST_COMMANDS)] == FIRST_COMMANDS, block
    # the first command a learner may paste into PowerShell 5.1 or cmd: no &&, and no # comment (cmd has none)
    assert "&&" not in block and "#" not in block, block


@pytest.mark.parametrize("page", READMES, ids=name)
def test_no_readme_prints_a_command_that_windows_powershell_refuses(page):
    lines = [line for block in code_blocks(text(page)) for line in block.splitlines()]
    assert not [line for line in lines if "&&" in line], f"{name(page)}: a command with && (PowerShell 5.1 refuses it)"


# ---- links -----------------------------------------------------------------------------------------------


def slug(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped (CJK kept), blanks -> '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(markdown):
    found, seen = set(), {}
    body = re.sub(r"```.*?```", "", markdown, flags=re.S)
    for heading in re.findall(r"^#{1,6} +(.*?)[ #]*$", body, re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def test_the_slug_rule():
    assert slug("Runs, Ctrl-C and `--resume`") == "runs-ctrl-c-and---resume"
    assert slug("没有 GPU？用免费的云 GPU") == "没有-gpu用免费的云-gpu"
    assert (
        slug("More than one GPU, more than one machine: `train_ddp.py`")
        == "more-than-one-gpu-more-than-one-machine-train_ddppy"
    )


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_every_relative_link_resolves(page):
    body = re.sub(r"```.*?```", "", text(page), flags=re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", body)
    assert links, f"{name(page)} links nowhere"
    broken = []
    for link in links:
        if re.match(r"[a-z]+:", link):  # https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(f"{link} (no such file)")
        elif anchor and path.suffix == ".md" and anchor not in anchors(text(path)):
            broken.append(f"{link} (no heading #{anchor} in {path.relative_to(REPO)})")
    assert not broken, f"{name(page)}: {broken}"


# ---- the commands the READMEs print run as printed --------------------------------------------------------


class _Parsed(Exception):
    def __init__(self, parser):
        self.parser = parser


_PARSE_KNOWN_ARGS = argparse.ArgumentParser.parse_known_args  # before any test replaces it


def parser_of(script, monkeypatch, cache={}):  # noqa: B006 (the cache lives as long as the test process)
    """The ArgumentParser a script's main() builds: main() stops where it would parse sys.argv."""
    if script not in cache:

        def stop(self, args=None, namespace=None):
            raise _Parsed(self)

        with monkeypatch.context() as mp:
            mp.syspath_prepend(str((REPO / script).parent))  # as `python script` has it: model_load imports model_save
            module = runpy.run_path(str(REPO / script), run_name="readme_check")
            mp.setattr(argparse.ArgumentParser, "parse_known_args", stop)
            with pytest.raises(_Parsed) as got:
                module["main"]()
        cache[script] = got.value.parser
    return cache[script]


def printed_commands():
    """(page, command line) for every lesson command in a code block line or an inline code span."""
    found = []
    for page in PAGES:
        body = text(page)
        lines = [line for block in code_blocks(body) for line in block.splitlines()] + sorted(inline_code(body))
        found += [(name(page), line.strip()) for line in lines if COMMAND.search(line)]
    return found


def test_the_readmes_print_many_commands():
    commands = printed_commands()
    assert len(commands) > 60 and {p for p, _ in commands} >= {name(p) for p in READMES}


def test_every_printed_command_names_a_script_and_flags_its_help_knows(monkeypatch):
    wrong = []
    for page, line in printed_commands():
        m = COMMAND.search(line)
        script, args = m.group(1), shlex.split(m.group(2))
        if not (REPO / script).is_file() and (REPO / page).parent.joinpath(script).is_file():
            script = name((REPO / page).parent / script)  # "cd 01_dataset, then python read_data.py"
        if not (REPO / script).is_file():
            wrong.append(f"{page}: {line}: no script {script}")
            continue
        # parsed as the script parses them, less its path checks (placeholders such as DIR or <run> are fine)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                _, unknown = _PARSE_KNOWN_ARGS(parser_of(script, monkeypatch), args)
            except SystemExit:
                wrong.append(f"{page}: {line}: {err.getvalue().strip()}")
                continue
        if unknown:
            wrong.append(f"{page}: {line}: {script} --help does not know {unknown}")
    assert not wrong, "\n".join(wrong)


# ---- what the two root READMEs must both say --------------------------------------------------------------


def test_the_install_section_gives_the_python_that_pyproject_requires_and_the_old_pythons_error():
    pyproject = text(REPO / "pyproject.toml")
    requires = re.search(r'^requires-python = "(.*)"$', pyproject, re.M).group(1)
    torch_floor = re.search(r"^torch(>=[\d.]+)$", text(REPO / "requirements.txt"), re.M).group(1)
    for readme, body in ROOT.items():
        assert f'requires-python = "{requires}"' in body, readme
        assert f"No matching distribution found for torch{torch_floor}" in body, readme  # what an old Python gets
        blocks = code_blocks(body)
        assert any(re.search(r"--index-url https://download\.pytorch\.org/whl/cu\d+", b) for b in blocks), readme
    # a learner in mainland China reads the mirror line first
    first_block = code_blocks(section(ZH, "## 安装"))[0]
    assert first_block.startswith("pip install -r requirements.txt -i https://pypi.tuna.tsinghua.edu.cn/simple\n")


def test_both_have_the_slow_download_steps_with_the_same_commands():
    from common.beyond_course.dataset_files import CIFAR10_BYTES, DATA_HELP

    from torchvision import datasets  # here, not at the top: the other tests of this file need no torchvision

    (en_section, en_sub), (zh_section, zh_sub) = DATA_HELP["README.md"], DATA_HELP["README.zh-CN.md"]
    en = section(section(EN, f"## {en_section}"), f"### {en_sub}")
    zh = section(section(ZH, f"## {zh_section}"), f"### {zh_sub}")
    assert code_blocks(en) == code_blocks(zh) and inline_code(en) == inline_code(zh)
    blocks, inline = code_blocks(en), inline_code(en)
    # the facts come from torchvision and from the code, so a change there shows up here
    assert {
        datasets.CIFAR10.filename,
        datasets.CIFAR10.tgz_md5,
        f"certutil -hashfile {datasets.CIFAR10.filename} MD5",
        '$env:CIFAR10_URL = "https://MIRROR/cifar-10-python.tar.gz"',
    } <= inline
    assert f"{CIFAR10_BYTES:,}" in en and f"{CIFAR10_BYTES:,}" in zh
    assert datasets.CIFAR10.url in en and datasets.CIFAR10.url in zh
    layout = next(b for b in blocks if b.startswith(f"dataset/{datasets.CIFAR10.base_folder}/"))
    files = {name for name, _ in datasets.CIFAR10.train_list + datasets.CIFAR10.test_list}
    assert files | {datasets.CIFAR10.meta["filename"]} <= set(layout.split())
    success = next(b for b in blocks if b.startswith("data: "))
    assert success.startswith("data: CIFAR-10 from ")
    assert '_("data: CIFAR-10 from {root}")' in text(REPO / "common" / "data.py")


@pytest.mark.parametrize("readme, guide", [("README.md", "ERRORS.md"), ("README.zh-CN.md", "ERRORS.zh-CN.md")])
def test_the_ten_most_common_errors_are_rows_of_the_checked_guide(readme, guide):
    from test_error_guide import guide as guide_rows

    quoted = {row[0] for row in guide_rows(guide)}
    title = next(h for h in re.findall(r"^## (.*)$", ROOT[readme], re.M) if "ten" in h or "十" in h)
    rows = [line for line in section(ROOT[readme], f"## {title}").splitlines() if line.startswith("| `")]
    messages = [re.match(r"\| `(.*?)` \|", row).group(1).replace("\\|", "|") for row in rows]
    assert len(messages) == 10, messages
    assert set(messages) <= quoted, f"{readme}: not in {guide}: {sorted(set(messages) - quoted)}"
    assert f"]({guide})" in ROOT[readme]


def test_each_readme_section_the_code_names_exists():
    # README "{heading}" is dataset_files.see_data_help()'s template: tests/test_data.py checks those sections
    named = {
        m
        for p in [*REPO.glob("common/**/*.py"), *REPO.glob("0*/*.py")]
        for m in re.findall(r'README "([^"{]+)"', text(p))
    }
    headings = [h for page in READMES for h in re.findall(r"^#{1,3} (.*)$", text(page), re.M)]
    assert named and all(any(h.startswith(n) for h in headings) for n in named), named


# ---- no development history in a learner's page -----------------------------------------------------------

HISTORY = re.compile(
    r"\bissues?\b|\bcommits?\b|\bsessions?\b|(previous|earlier|older|middle) version|"
    r"version of (this|the) (lesson|repository|script)|earlier round|ran faster|"
    r"上一个版本|上一版|那个版本|更早的一轮|跑得快一些",
    re.I,
)


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_no_development_history_in_a_learners_page(page):
    found = sorted({m.group(0) for m in HISTORY.finditer(text(page))})
    assert not found, f"{name(page)} speaks of {found}"


# ---- what the guide says of your own copy of the course's class holds -------------------------------------


@pytest.mark.parametrize("guide", ["ERRORS.md", "ERRORS.zh-CN.md"])
def test_a_p27_style_class_loads_this_repositorys_weights_and_a_p22_style_class_does_not(guide):
    import torch

    from helpers import COURSE_TUDUI  # the course's P27 class, written out as a learner does

    (row,) = [line for line in text(REPO / guide).splitlines() if line.startswith("| `AttributeError: 'dict'")]
    assert all(s in row for s in ("`self.model`", "`self.model1`", "`Missing key(s)`", "`Unexpected key(s)`")), row
    weights = torch.load(REPO / "09_inference" / "weights" / "tudui_cifar10.pth", weights_only=True)["model"]
    p27, p22 = {}, {}
    exec(COURSE_TUDUI, p27)
    exec(COURSE_TUDUI.replace("self.model", "self.model1"), p22)  # P22 names the Sequential model1
    p27["Tudui"]().load_state_dict(weights)
    with pytest.raises(RuntimeError, match=r"(?s)Missing key\(s\).*Unexpected key\(s\)"):
        p22["Tudui"]().load_state_dict(weights)
