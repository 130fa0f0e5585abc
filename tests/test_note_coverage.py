"""The note coverage table (NOTE_COVERAGE.md, one page for both languages): every heading of the course
notes 000-004 -> the scripts that show it, or "text only" and why, said in Chinese and in English. Every
script named exists, the counts add up and, where the notes lie next to the repository (../shared/seeds/,
not shipped with it), every heading of the notes is in the table, in order."""

import re

import pytest

from helpers import REPO

PAGE = REPO / "NOTE_COVERAGE.md"
NOTES = REPO.parent / "shared" / "seeds"
FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")
HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*))?$")
LINK = re.compile(r"\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*\)")
SCRIPT = re.compile(r"`(\d\d_\w+/\w+\.py)\b")
# a note's summary line says its counts in both languages; so does the line with the totals
SUMMARY = (
    r"<summary>笔记 (\d{3})（.*）：(\d+) 个标题，(\d+) 个有脚本，(\d+) 个纯文字 · "
    r"Note (\d{3}) \(.*\): (\d+) headings, (\d+) with a script, (\d+) text only</summary>"
)
TOTALS = (
    r"合计 \*\*(\d+) 个标题：(\d+) 个有脚本，(\d+) 个纯文字\*\*（其中 (\d+) 个是大标题）。\n"
    r"In all \*\*(\d+) headings: (\d+) with a script, (\d+) text only\*\* \((\d+) of them part titles\)"
)
TEXT_ONLY = re.compile(r"纯文字：(.+) · text only: (.+)")
PART = ("大标题", "a part title")


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


def table():
    """{note: (counts of its summary, [(line, heading, scripts, (reason in Chinese, in English))])}, the
    totals, the page's text."""
    body = PAGE.read_text(encoding="utf-8")
    notes = {}
    for block in re.findall(r"<details>\n(.*?)</details>", body, re.S):
        m = re.match(SUMMARY, block)
        assert m, block[:300]
        zh, en = m.groups()[:4], m.groups()[4:]
        assert zh == en, f"the summary says other numbers in Chinese and in English: {m.group(0)}"
        rows = []
        for row in re.findall(r"^\| \d.*", block, re.M):
            line, delim, heading, shown = re.fullmatch(r"\| (\d+) \| (`+) ?(.*?) ?\2 \| (.*) \|", row).groups()
            if shown.startswith("纯文字"):
                reason = TEXT_ONLY.fullmatch(shown)
                assert reason, f"a text-only row gives its reason in Chinese, then in English: {row}"
                scripts, reason = (), reason.groups()
            else:
                scripts, reason = tuple(SCRIPT.findall(shown)), None
                assert shown == ", ".join(f"`{s}`" for s in scripts) and scripts, row  # only scripts in the cell
            rows.append((int(line), heading.replace("\\|", "|"), scripts, reason))
        notes[m.group(1)] = (tuple(map(int, zh[1:])), rows)
    totals = re.search(TOTALS, body)
    assert totals, "no totals line in both languages"
    assert totals.groups()[:4] == totals.groups()[4:], totals.group(0)
    return notes, tuple(map(int, totals.groups()[:4])), body


def test_every_script_named_in_the_coverage_table_exists():
    *_, body = table()
    named = set(SCRIPT.findall(body))
    assert len(named) > 20
    missing = sorted(s for s in named if not (REPO / s).is_file())
    assert not missing, f"named in NOTE_COVERAGE.md but not in the repository: {missing}"


def test_the_table_has_every_note_and_each_reason_in_both_languages():
    notes, _, _ = table()
    assert sorted(notes) == ["000", "001", "002", "003", "004"]
    for _, rows in notes.values():
        for row in rows:
            if row[3]:  # a part title is one in both languages
                assert row[3][0].startswith(PART[0]) == row[3][1].startswith(PART[1]), row


def test_the_counts_add_up():
    notes, totals, _ = table()
    for note, ((headings, scripts, text_only), rows) in notes.items():
        assert headings == len(rows), note
        assert scripts == sum(1 for r in rows if r[2]), note
        assert text_only == sum(1 for r in rows if not r[2]), note
        assert [r[0] for r in rows] == sorted({r[0] for r in rows}), f"{note}: lines out of order or repeated"
    assert totals[:3] == tuple(sum(c[i] for c, _ in notes.values()) for i in range(3))
    assert totals[3] == sum(1 for _, rows in notes.values() for r in rows if r[3] and r[3][1].startswith(PART[1]))


def test_the_heading_rule_on_what_the_notes_do():
    text = "\n".join(
        [
            "# 【数据准备】",  # 1: a heading
            "```python",
            "# 准备数据集",  # a comment in code
            "```",
            "①```model = torch.load(path)``` 加载",  # inline code, not a fence
            "```vgg16.load_state_dict(sd)```",  # inline code on a line of its own, not a fence
            "####  完整训练简单套路",  # 7: a heading, two blanks
            "````py",
            "```py",
            "#原始数据模型",  # still inside the ```` block
            "```",
            "````",
            "### ",  # no text: no heading
            "#### 6.1.2.7 [最小二乘法](https://x.y/a?b=(c)) ##",  # 14: the link's text, closing #s dropped
            "   ```python",  # an indented fence, inside a list
            "   # 方式1加载模型",
            "   ```",
            "#没有空格",  # no blank after '#': a paragraph
            "### 1.1\tDataset：获取data",  # 19: a tab
        ]
    )
    assert note_headings(text) == [
        (1, "# 【数据准备】"),
        (7, "#### 完整训练简单套路"),
        (14, "#### 6.1.2.7 最小二乘法"),
        (19, "### 1.1 Dataset：获取data"),
    ]


@pytest.mark.skipif(not NOTES.is_dir(), reason=f"the course notes are not at {NOTES}")
def test_every_heading_of_the_notes_is_in_the_table():
    notes, _, _ = table()
    for note, (_, rows) in notes.items():
        files = list(NOTES.glob(f"{note}_*.txt"))
        assert len(files) == 1, files
        expected = note_headings(files[0].read_text(encoding="utf-8"))
        listed = [(line, heading) for line, heading, _, _ in rows]
        assert listed == expected, (
            f"note {note}: not in the table {sorted(set(expected) - set(listed))}, "
            f"in the table but not a heading {sorted(set(listed) - set(expected))}"
        )
