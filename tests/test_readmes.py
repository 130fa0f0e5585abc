"""README.md and README.zh-CN.md stay in step: same scripts, same lesson map, same Quick start."""
import re
import textwrap

import pytest

from helpers import REPO

EN, ZH = (REPO / "README.md").read_text(encoding="utf-8"), (REPO / "README.zh-CN.md").read_text(encoding="utf-8")
SCRIPT = re.compile(r"`(?:[\w./-]*/)?(\w+\.py)\b")


def section(text, *titles):
    """The text of the first ## section whose title starts with one of ``titles``."""
    for title in titles:
        m = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
        if m:
            return m.group(1)
    raise AssertionError(f"no section {titles}")


def map_rows(text, *titles):
    """The scripts of the lesson map, in order."""
    rows = [line for line in section(text, *titles).splitlines() if line.startswith("| 0")]
    return [re.search(r"`(\w+\.py)`", row).group(1) for row in rows]


def test_both_readmes_link_to_each_other_at_the_top():
    assert "README.zh-CN.md" in EN[:400] and "README.md" in ZH[:400]


def test_every_script_named_in_one_readme_is_named_in_the_other():
    en, zh = set(SCRIPT.findall(EN)), set(SCRIPT.findall(ZH))
    assert en - zh == set(), f"named only in README.md: {sorted(en - zh)}"
    assert zh - en == set(), f"named only in README.zh-CN.md: {sorted(zh - en)}"


def test_the_lesson_maps_list_every_lesson_in_the_same_order():
    scripts = sorted(p.name for p in REPO.glob("0*/*.py"))
    en, zh = map_rows(EN, "Lesson map"), map_rows(ZH, "课程对照表")
    assert en == zh
    assert sorted(en) == scripts, f"the map misses {sorted(set(scripts) - set(en))}"


def test_both_give_the_same_quick_start_commands():
    def blocks(text, title):
        return re.findall(r"```\w*\n(.*?)```", section(text, title), re.S)
    assert blocks(EN, "Quick start") == blocks(ZH, "快速开始")
    assert blocks(EN, "Quick start")[0].splitlines()[0] == \
        "pip install -r requirements.txt && python 08_train/train_gpu.py"


def part(text, heading):
    """The text under the heading line ``heading`` (e.g. "### Slow or blocked download"), up to the next
    heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    m = re.search(rf"^{re.escape(heading)}\b.*?$(.*?)(?=^#{{1,{level}}} |\Z)", text, re.M | re.S)
    assert m, f"no heading {heading!r}"
    return m.group(1)


def commands(text):
    """The fenced code blocks of ``text`` (a block indented in a list item: dedented), and the set of its
    inline code spans."""
    blocks = [textwrap.dedent(b) for b in re.findall(r"```\w*\n(.*?)```", text, re.S)]
    inline = set(re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S)))
    return blocks, inline


def test_both_open_with_the_same_install_section():
    titles = [re.findall(r"^## (.*)$", text, re.M)[:2] for text in (EN, ZH)]
    assert titles == [["Install", "Quick start"], ["安装", "快速开始"]]
    en, zh = part(EN, "## Install"), part(ZH, "## 安装")
    assert commands(en) == commands(zh)  # every command and value in one is in the other
    blocks, inline = commands(en)
    assert any(re.search(r"--index-url https://download\.pytorch\.org/whl/cu\d+", b) for b in blocks)
    assert "pip install -r requirements.txt -i https://pypi.tuna.tsinghua.edu.cn/simple\n" in blocks
    assert "python 01_dataset/install_check.py\n" in blocks
    requirements = (REPO / "requirements.txt").read_text(encoding="utf-8")
    torch_floor = re.search(r"^torch(>=[\d.]+)$", requirements, re.M).group(1)
    assert f"No matching distribution found for torch{torch_floor}" in en  # the error an old Python gets


def test_the_install_section_gives_the_python_that_pyproject_requires():
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    m = re.search(r'^requires-python = "(.*)"$', pyproject, re.M)
    if m is None:
        pytest.skip("pyproject.toml has no requires-python yet")
    assert f'requires-python = "{m.group(1)}"' in part(EN, "## Install")


def test_both_have_the_slow_download_steps_with_the_same_commands():
    from torchvision import datasets  # here, not at the top: the other tests of this file need no torch

    en = part(part(EN, "## Data"), "### Slow or blocked download")
    zh = part(part(ZH, "## 数据"), "### 下载太慢或下载不了")
    assert commands(en) == commands(zh)
    blocks, inline = commands(en)
    # the facts come from torchvision and from the code, so a change there shows up here
    assert {datasets.CIFAR10.filename, datasets.CIFAR10.tgz_md5, f"certutil -hashfile {datasets.CIFAR10.filename} MD5",
            "$env:CIFAR10_URL = \"https://MIRROR/cifar-10-python.tar.gz\""} <= inline
    assert datasets.CIFAR10.url in en
    layout = next(b for b in blocks if b.startswith(f"dataset/{datasets.CIFAR10.base_folder}/"))
    files = {name for name, _ in datasets.CIFAR10.train_list + datasets.CIFAR10.test_list}
    assert files | {datasets.CIFAR10.meta["filename"]} <= set(layout.split())
    success = next(b for b in blocks if b.startswith("data: "))
    assert success.startswith("data: CIFAR-10 from ") and 'f"data: CIFAR-10 from {root}"' in \
        (REPO / "common" / "data.py").read_text(encoding="utf-8")


def test_each_readme_section_the_code_names_exists():
    # README "{}" is data.SEE_DATA_HELP's template: tests/test_data.py checks those sections in both languages
    named = {m for p in [*REPO.glob("common/*.py"), *REPO.glob("0*/*.py")]
             for m in re.findall(r'README "([^"{]+)"', p.read_text(encoding="utf-8"))}
    headings = re.findall(r"^#{2,3} (.*)$", EN, re.M)
    assert named and all(any(h.startswith(n) for h in headings) for n in named), named


def test_both_have_as_many_sections():
    en, zh = (re.findall(r"^## (.*)$", text, re.M) for text in (EN, ZH))
    assert len(en) == len(zh), f"{len(en)} sections in README.md, {len(zh)} in README.zh-CN.md"


def test_both_put_the_beginners_sections_first_and_the_engineering_detail_after():
    orders = []
    for text, beginners, divider, engineering in [
        (EN, ["Install", "Quick start", "Lesson map", "Running the scripts", "Data", "Your own pictures",
              "Common errors"], "Going further", ["Loading checkpoints safely", "Speed", "More than one GPU", "Tests"]),
        (ZH, ["安装", "快速开始", "课程对照表", "运行脚本", "数据", "训练你自己的图片", "常见报错"], "进阶",
         ["安全加载模型", "更快", "多个 GPU", "运行测试"]),
    ]:
        titles = re.findall(r"^## (.*)$", text, re.M)

        def index(prefix, titles=titles):
            return next(i for i, title in enumerate(titles) if title.startswith(prefix))
        first = [index(p) for p in beginners]
        assert first == sorted(first) and max(first) < index(divider) < min(index(p) for p in engineering), titles
        orders.append(index(divider))
    assert orders[0] == orders[1]  # the same sections before the divider in both
