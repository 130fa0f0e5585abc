"""The note coverage table of both READMEs: every heading of the course notes 000-004 -> the scripts
that show it, or "text only" and why. Every script named exists, both READMEs list the same headings
with the same scripts, the counts add up and, where the notes lie next to the repository
(../shared/seeds/, not shipped with it), every heading of the notes is in the table, in order."""
import re

import pytest

from helpers import REPO
from test_readmes import EN, ZH, section

NOTES = REPO.parent / "shared" / "seeds"
FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")
HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*))?$")
LINK = re.compile(r"\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*\)")
SCRIPT = re.compile(r"`(\d\d_\w+/\w+\.py)\b")
README = {  # section title, summary line, "text only" prefix, the line with the totals
    "en": (EN, "Note coverage", r"<summary>Note (\d{3}) \(.*\): (\d+) headings, (\d+) with a script, (\d+) text only",
           "text only: ", r"In all \*\*(\d+) headings: (\d+) with a script, (\d+) text only\*\* \((\d+) of them part"),
    "zh": (ZH, "笔记覆盖表", r"<summary>笔记 (\d{3})（.*）：(\d+) 个标题，(\d+) 个有脚本，(\d+) 个纯文字",
           "纯文字：", r"合计 \*\*(\d+) 个标题：(\d+) 个有脚本，(\d+) 个纯文字\*\*（其中 (\d+) 个是大标题）"),
}
PART = {"en": "a part title", "zh": "大标题"}


def note_headings(text):
    """[(line number, heading as the table quotes it)] of a note: Markdown headings (1-6 '#', then a
    blank) outside fenced code blocks, whose '#' lines are Python comments. A fence (``` or ~~~, at any
    indent: the notes indent some inside lists) closes only with a bare fence of the same character at
    least as long (note 003 has ```py lines inside a ````py block); a ``` line with more backticks in it
    is inline code, not a fence (note 000's ```vgg16.load_state_dict(...)```). A heading with no text
    (note 003's "### ") is none; links show as their text, runs of blanks as one space."""
    found, fence = [], None
    for number, line in enumerate(text.splitlines(), 1):
        f = FENCE.match(line)
        if fence:
            if f and f.group(1)[0] == fence[0] and len(f.group(1)) >= len(fence) and not f.group(2).strip():
                fence = None
        elif f and not (f.group(1)[0] == "`" and "`" in f.group(2)):
            fence = f.group(1)
        elif h := HEADING.match(line):
            words = re.sub(r"[ \t]+#+[ \t]*$", "", h.group(2) or "").split()  # "## title ##": the closing #s
            if words:
                found.append((number, h.group(1) + " " + LINK.sub(r"\1", " ".join(words))))
    return found


def table(lang):
    """{note: (counts of its summary, [(line, heading, scripts, reason)])}, the totals line, the section."""
    text, title, summary, text_only, totals = README[lang]
    body = section(text, title)
    notes = {}
    for block in re.findall(r"<details>\n(.*?)</details>", body, re.S):
        m = re.match(summary, block)
        assert m, block[:200]
        rows = []
        for row in re.findall(r"^\| \d.*", block, re.M):
            line, delim, heading, shown = re.fullmatch(r"\| (\d+) \| (`+) ?(.*?) ?\2 \| (.*) \|", row).groups()
            if shown.startswith(text_only):
                scripts, reason = (), shown[len(text_only):]
                assert reason, row
            else:
                scripts, reason = tuple(SCRIPT.findall(shown)), ""
                assert shown == ", ".join(f"`{s}`" for s in scripts) and scripts, row  # only scripts in the cell
            rows.append((int(line), heading.replace("\\|", "|"), scripts, reason))
        notes[m.group(1)] = (tuple(map(int, m.groups()[1:])), rows)
    return notes, tuple(map(int, re.search(totals, body).groups())), body


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_script_named_in_the_coverage_table_exists(lang):
    *_, body = table(lang)
    named = set(SCRIPT.findall(body))
    assert len(named) > 20
    missing = sorted(s for s in named if not (REPO / s).is_file())
    assert not missing, f"named in the {lang} coverage table but not in the repository: {missing}"


def test_both_readmes_map_the_same_headings_to_the_same_scripts():
    en, en_totals, _ = table("en")
    zh, zh_totals, _ = table("zh")
    assert sorted(en) == sorted(zh) == ["000", "001", "002", "003", "004"]
    for note in en:
        assert en[note][0] == zh[note][0], note
        assert [r[:3] for r in en[note][1]] == [r[:3] for r in zh[note][1]], note
        # text only in one, text only in the other; the reasons are translations, but the same reason
        # (a part title, ...) stays the same reason
        assert [r[3].startswith(PART["en"]) for r in en[note][1]] == [r[3].startswith(PART["zh"]) for r in zh[note][1]]
    assert en_totals == zh_totals


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_counts_add_up(lang):
    notes, totals, _ = table(lang)
    for note, ((headings, scripts, text_only), rows) in notes.items():
        assert headings == len(rows), note
        assert scripts == sum(1 for r in rows if r[2]), note
        assert text_only == sum(1 for r in rows if not r[2]), note
        assert [r[0] for r in rows] == sorted({r[0] for r in rows}), f"{note}: lines out of order or repeated"
    assert totals[:3] == tuple(sum(c[i] for c, _ in notes.values()) for i in range(3))
    assert totals[3] == sum(1 for _, rows in notes.values() for r in rows if r[3].startswith(PART[lang]))


def test_the_heading_rule_on_what_the_notes_do():
    text = "\n".join([
        "# 【数据准备】",                       # 1: a heading
        "```python",
        "# 准备数据集",                         # a comment in code
        "```",
        "①```model = torch.load(path)``` 加载",  # inline code, not a fence
        "```vgg16.load_state_dict(sd)```",     # inline code on a line of its own, not a fence
        "####  完整训练简单套路",                  # 7: a heading, two blanks
        "````py",
        "```py",
        "#原始数据模型",                          # still inside the ```` block
        "```",
        "````",
        "### ",                                 # no text: no heading
        "#### 6.1.2.7 [最小二乘法](https://x.y/a?b=(c)) ##",  # 14: the link's text, closing #s dropped
        "   ```python",                          # an indented fence, inside a list
        "   # 方式1加载模型",
        "   ```",
        "#没有空格",                             # no blank after '#': a paragraph
        "### 1.1\tDataset：获取data",            # 19: a tab
    ])
    assert note_headings(text) == [(1, "# 【数据准备】"), (7, "#### 完整训练简单套路"),
                                   (14, "#### 6.1.2.7 最小二乘法"), (19, "### 1.1 Dataset：获取data")]


@pytest.mark.skipif(not NOTES.is_dir(), reason=f"the course notes are not at {NOTES}")
def test_every_heading_of_the_notes_is_in_the_table():
    notes, _, _ = table("en")
    for note, (_, rows) in notes.items():
        files = list(NOTES.glob(f"{note}_*.txt"))
        assert len(files) == 1, files
        expected = note_headings(files[0].read_text(encoding="utf-8"))
        listed = [(line, heading) for line, heading, _, _ in rows]
        assert listed == expected, (f"note {note}: not in the table {sorted(set(expected) - set(listed))}, "
                                    f"in the table but not a heading {sorted(set(listed) - set(expected))}")
