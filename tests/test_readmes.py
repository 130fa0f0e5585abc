"""README.md and README.zh-CN.md stay in step: same scripts, same lesson map, same Quick start."""
import re

from conftest import REPO

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
