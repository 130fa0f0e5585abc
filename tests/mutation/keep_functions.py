"""A cosmic-ray filter: skip every mutant outside the functions a config names (the parts a learner sees).

    python tests/mutation/keep_functions.py SESSION.sqlite CONFIG.toml

CONFIG's ``[cosmic-ray.filters.keep-functions] functions`` lists names: ``prepare`` (a function),
``TensorBatches`` (a whole class) or ``TensorBatches.__iter__`` (one method). No list: every mutant stays.
"""

import ast
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


def main(session, config):
    names = load_config(config).sub("filters", "keep-functions").get("functions")
    if not names:
        return
    with use_db(session, WorkDB.Mode.open) as db:
        skipped = 0
        for item in list(db.pending_work_items):
            for mutation in item.mutations:
                ranges = line_ranges(Path(mutation.module_path).read_text(encoding="utf-8"), set(names))
                if not any(a <= mutation.start_pos[0] <= b for a, b in ranges):
                    db.set_result(
                        item.job_id,
                        WorkResult(output="outside the functions kept", worker_outcome=WorkerOutcome.SKIPPED),
                    )
                    skipped += 1
                    break
        print(f"keep-functions: skipped {skipped} mutant(s) outside {', '.join(names)}")


if __name__ == "__main__":
    main(*sys.argv[1:])
