"""A cosmic-ray filter: skip every mutant outside the functions a config names (the parts a learner sees).

    python tests/mutation/keep_functions.py SESSION.sqlite CONFIG.toml

CONFIG's ``[cosmic-ray.filters.keep-functions] functions`` lists names: ``prepare`` (a function),
``TensorBatches`` (a whole class) or ``TensorBatches.__iter__`` (one method). No list: every mutant stays.
``changed-from = "08_train/train_gpu.py"`` keeps, of those, the mutants on lines that file does not have
(its diff: the DDP lesson's own lines; the others are mutated in train_gpu.py's run).
"""

import ast
import difflib
import sys
from pathlib import Path

from cosmic_ray.config import load_config
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult


def line_ranges(source, names):
    """The (first, last) lines of each def or class in ``source`` whose name or Class.name is in ``names``."""
    ranges = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if name in names or child.name in names and not prefix:
                    ranges.append((child.lineno, child.end_lineno))
                visit(child, name + ".")

    visit(ast.parse(source), "")
    return ranges


def changed_lines(source, other):
    """The numbers of the lines of ``source`` that ``other`` does not have (difflib, as the length test)."""
    a, b = Path(other).read_text(encoding="utf-8").splitlines(), source.splitlines()
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return {n + 1 for tag, _, _, j1, j2 in opcodes if tag != "equal" for n in range(j1, j2)}


def main(session, config):
    keep = load_config(config).sub("filters", "keep-functions")
    names, other = keep.get("functions"), keep.get("changed-from")
    if not names:
        return
    with use_db(session, WorkDB.Mode.open) as db:
        skipped = 0
        for item in list(db.pending_work_items):
            for mutation in item.mutations:
                source = Path(mutation.module_path).read_text(encoding="utf-8")
                line = mutation.start_pos[0]
                kept = any(a <= line <= b for a, b in line_ranges(source, set(names)))
                if not kept or other and line not in changed_lines(source, other):
                    db.set_result(
                        item.job_id,
                        WorkResult(output="outside the functions kept", worker_outcome=WorkerOutcome.SKIPPED),
                    )
                    skipped += 1
                    break
        where = ", ".join(names) + (f" or on lines {other} has too" if other else "")
        print(f"keep-functions: skipped {skipped} mutant(s) outside {where}")


if __name__ == "__main__":
    main(*sys.argv[1:])
