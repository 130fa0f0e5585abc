"""Course calls, strictly (issue 27): every call the course's script makes is made, as code, in the lesson
script that matches it; the share of them that are, per script and in all, must be at least 95%.

The reference is the course's code as the notes (../shared/seeds/, not shipped with the repository) show it.
``course_calls.json`` beside this file names, for each course script, its lesson script and the notes' code
blocks that show it (note number and the line of the block's opening fence), and keeps the calls found in
those blocks, so the measurement runs without the notes; where the notes are there, the list is read again
from them and must be the same. Both sides are parsed with ``ast``; nothing is run.

How a call is named and matched:
- A call is named by its dotted name as written (``writer.add_scalar``, ``os.path.join``, ``img.show``,
  ``len``), its first part resolved through the file's imports, so ``nn.Conv2d``, ``Conv2d`` after
  ``from torch.nn import Conv2d`` and ``torch.nn.Conv2d`` are one name. The usual aliases count where a
  snippet of the notes doesn't import them (``nn``, ``F``, ``np``, ``Image``, ``transforms``).
- ``super(Tudui, self).__init__`` is ``super().__init__``; a method of something that has no name (``(a ==
  b).sum``) is ``?.sum`` and matches that method on anything; the call of a call's result
  (``transforms.ToTensor()(img)``) is not counted, the inner call is.
- Each name counts once per script (the course's second ``writer.add_images`` adds nothing).
- The lesson has the course's call when it calls the same name, or a longer name that ends with it
  (the course's ``Tudui()`` from ``from model import *`` is the lesson's ``common.model.Tudui()``;
  ``tudui(imgs)`` is also ``self.tudui(imgs)``), with every keyword argument the course passes to it
  (passed by keyword too; the values are the lesson's own: its paths, its flags).
- Not counted: ``print`` (the lessons print the course's values through the learner's language, see
  common/beyond_course/lang.py) and ``str.format`` (the course formats its printed text with it; the lessons
  use f-strings and gettext). The calls they wrap (``len(train_data)``, ``loss.item()``) count.
- A course call that today's PyTorch removed or changed, or that the notes write in their own words, counts
  as present when the lesson makes the documented replacement: the ``fixes`` of course_calls.json, each with
  its reason (``vgg16(pretrained=True)`` -> ``weights=``; the note's ``torch.cuda.is_avaliable`` typo; a
  note's own variable name for the course's object). A fix names the lesson's call (``repo``) and/or maps
  keywords (``keywords``: the new name, or null where today's PyTorch dropped it).
- A script's ``with`` are the course's own helper files in the repository (common/model.py is the course's
  model.py): their calls count for the lesson when it imports from them. Its ``elsewhere`` are calls of a
  block that the course teaches in another script, not counted here.
"""

import ast
import json
import re
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
NOTES = REPO.parent / "shared" / "seeds"
TABLE = json.loads((TESTS / "course_calls.json").read_text(encoding="utf-8"))
THRESHOLD = 0.95

IGNORED = {"print", "super"}
IGNORED_METHODS = {"format"}
ALIASES = {
    "nn": "torch.nn",
    "F": "torch.nn.functional",
    "np": "numpy",
    "Image": "PIL.Image",
    "transforms": "torchvision.transforms",
}
FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")
SEPARATOR = re.compile(r"^\s*-{3,}\s*$")  # note 003 draws ---- lines between parts of one code block


def code_blocks(text):
    """{line of the opening fence: the block's code, dedented}. A fence closes only with a bare fence of the
    same character at least as long; a ``` line with more backticks in it is inline code (as in
    test_note_coverage.note_headings)."""
    blocks, fence, start, lines = {}, None, 0, []
    for number, line in enumerate(text.splitlines(), 1):
        f = FENCE.match(line)
        if fence:
            if f and f.group(1)[0] == fence[0] and len(f.group(1)) >= len(fence) and not f.group(2).strip():
                blocks[start] = textwrap.dedent("\n".join(lines))
                fence = None
            else:
                lines.append(line)
        elif f and not (f.group(1)[0] == "`" and "`" in f.group(2)):
            fence, start, lines = f.group(1), number, []
    return blocks


def imported_names(tree):
    """{local name: the dotted name it stands for} from every import in the file."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    names[a.asname] = a.name
                else:
                    names[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                if a.name != "*":
                    names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def dotted(node):
    """The dotted name of a called expression, '?' for a part with no name, None for no name at all."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value) or '?'}.{node.attr}"
    if isinstance(node, ast.Call):  # super(Tudui, self).__init__ -> super().__init__; f(x).view -> ?.view
        return "super()" if dotted(node.func) == "super" else "?"
    return None


def calls(source, only=None):
    """{call name: set of keyword names passed to it} in a source text (only: in its top-level definitions of
    these names)."""
    tree = ast.parse(source)
    imports = imported_names(tree)
    found = {}
    parts = [d for d in tree.body if getattr(d, "name", None) in only] if only is not None else [tree]
    for node in (n for part in parts for n in ast.walk(part)):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        if not name or name == "?":  # a call of a call's result, of a[i], ...: the inner call counts
            continue
        head, _, rest = name.partition(".")
        head = imports.get(head) or ALIASES.get(head) or head
        name = head + ("." + rest if rest else "")
        if name in IGNORED or name.rpartition(".")[2] in IGNORED_METHODS and "." in name:
            continue
        found.setdefault(name, set()).update(k.arg for k in node.keywords if k.arg)
    return found


def course_calls_from_notes(entry):
    """The calls of a course script, read from the notes' blocks the table names for it."""
    found = {}
    for spec in entry["blocks"]:
        note, line = spec.split(":")
        (path,) = NOTES.glob(f"{note}_*.txt")
        blocks = code_blocks(path.read_text(encoding="utf-8"))
        assert int(line) in blocks, f"note {note} has no code block opening at line {line}"
        code = "\n".join(x for x in blocks[int(line)].splitlines() if not SEPARATOR.match(x))
        for name, keywords in calls(code).items():
            found.setdefault(name, set()).update(keywords)
    for name in entry.get("elsewhere", {}):
        found.pop(name)
    return {name: sorted(keywords) for name, keywords in sorted(found.items())}


def matches(course, repo):
    if course.startswith("?."):
        return repo.endswith(course[1:])
    return repo == course or repo.endswith("." + course)


def lacks(course, keywords, repo_calls):
    """What the lesson lacks of the course's call: '' (nothing), 'call', or the keywords it doesn't pass."""
    names = [name for name in repo_calls if matches(course, name)]
    if not names:
        return "call"
    given = set().union(*(repo_calls[name] for name in names))
    return " ".join(f"{k}=" for k in keywords if k not in given)


def lesson_calls(entry):
    """The calls of the lesson script, with those made inside the classes and functions it imports from the
    files of its "with" (Tudui's nn.Conv2d from common/model.py; not Tudui() itself, the lesson makes that)."""
    source = (REPO / entry["repo"]).read_text(encoding="utf-8")
    found = calls(source)
    imported = imported_names(ast.parse(source)).values()
    for path in entry.get("with", {}):
        module = path.removesuffix(".py").replace("/", ".")
        names = {name.removeprefix(module + ".") for name in imported if name.startswith(module + ".")}
        for name, keywords in calls((REPO / path).read_text(encoding="utf-8"), only=names).items():
            found.setdefault(name, set()).update(keywords)
    return found


def measure(entry, fixes):
    """[(course call, what the lesson lacks of it: '' for nothing)] for one course script."""
    repo_calls = lesson_calls(entry)
    rows = []
    for course, keywords in entry["calls"].items():
        fix = fixes.get((entry["course"], course), {})
        renamed = fix.get("keywords", {})
        wanted = [renamed.get(k, k) for k in keywords if renamed.get(k, k)]
        rows.append((course, lacks(fix.get("repo", course), wanted, repo_calls)))
    return rows


def fidelity():
    fixes = {(f["script"], f["course"]): f for f in TABLE["fixes"]}
    return {entry["course"]: (entry["repo"], measure(entry, fixes)) for entry in TABLE["scripts"]}


def report(results):
    lines, have, total = [], 0, 0
    for course, (repo, rows) in results.items():
        n = sum(not lack for _, lack in rows)
        have, total = have + n, total + len(rows)
        missing = ", ".join(c if lack == "call" else f"{c}({lack})" for c, lack in rows if lack)
        lines.append(f"{course:26} {repo:38} {n:3}/{len(rows):<3} {missing}")
    lines.append(f"{'total':26} {'':38} {have:3}/{total:<3} = {have / total:.1%}")
    return "\n".join(lines), have, total


def test_course_call_fidelity():
    text, have, total = report(fidelity())
    print("\n" + text)
    assert have / total >= THRESHOLD, f"course calls in the lessons: {have}/{total}, under {THRESHOLD:.0%}\n{text}"


def test_every_fix_is_for_a_course_call_of_the_table():
    """A fix names a call the course's script makes (no dead entries that could hide a missing call)."""
    calls_of = {e["course"]: e["calls"] for e in TABLE["scripts"]}
    for fix in TABLE["fixes"]:
        assert fix["course"] in calls_of.get(fix["script"], {}), fix
        assert fix["why"].strip(), fix


def test_every_lesson_script_of_the_table_exists():
    for entry in TABLE["scripts"]:
        assert (REPO / entry["repo"]).is_file(), entry["repo"]
        for path, why in entry.get("with", {}).items():
            assert (REPO / path).is_file() and why.strip(), path


def test_the_measure_sees_a_missing_call(tmp_path):
    """The matcher is not blind: a lesson without writer.close() (or with a helper around CIFAR10) misses it."""
    repo = calls("from torch.utils.tensorboard import SummaryWriter\nwriter = SummaryWriter('logs')\n")
    assert lacks("writer.close", [], repo) == "call"
    repo = calls("import common.data\ntrain_data = common.data.cifar10(train=True)\n")
    assert lacks("torchvision.datasets.CIFAR10", ["train"], repo) == "call"
    repo = calls("import torchvision\nd = torchvision.datasets.CIFAR10('x', train=True)\n")
    assert lacks("torchvision.datasets.CIFAR10", ["train"], repo) == ""
    assert lacks("torchvision.datasets.CIFAR10", ["train", "download"], repo) == "download="
    repo = calls("from torchvision.datasets import CIFAR10\nd = CIFAR10('x', train=True, download=False)\n")
    assert lacks("torchvision.datasets.CIFAR10", ["train", "download"], repo) == ""


@pytest.mark.skipif(not NOTES.is_dir(), reason="the course notes are not next to the repository")
def test_the_table_is_what_the_notes_show():
    for entry in TABLE["scripts"]:
        assert entry["calls"] == course_calls_from_notes(entry), entry["course"]


def write_table(table):
    """course_calls.json, one line per call and per fix, so a change reads as a one-line diff."""

    def dump(value):
        return json.dumps(value, ensure_ascii=False)

    entries = []
    for entry in table["scripts"]:
        lines = [f"   {dump(k)}: {dump(v)}" for k, v in entry.items() if k != "calls"]
        found = ",\n".join(f"    {dump(k)}: {dump(v)}" for k, v in entry["calls"].items())
        lines.append(f'   "calls": {{\n{found}\n   }}')
        entries.append("  {\n" + ",\n".join(lines) + "\n  }")
    fixes = ",\n".join(f"  {dump(fix)}" for fix in table["fixes"])
    text = '{\n "scripts": [\n' + ",\n".join(entries) + '\n ],\n "fixes": [\n' + fixes + "\n ]\n}\n"
    (TESTS / "course_calls.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    # python tests/test_course_calls.py: read the calls again from the notes (after a change of the blocks
    # or the rules), rewrite course_calls.json, print the table
    if not NOTES.is_dir():
        raise SystemExit(f"error: the course notes are not in {NOTES}")
    for entry in TABLE["scripts"]:
        entry["calls"] = course_calls_from_notes(entry)
    write_table(TABLE)
    print(report(fidelity())[0])
