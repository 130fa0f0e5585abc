#!/usr/bin/env bash
# Mutation testing (issue 31): bash tests/mutation/run.sh checkpoint fastdata recipe amp pictures predict train transfer train_gpu ddp
# Each NAME.toml names one module, the functions mutated (keep-functions) and the fast tests run per mutant.
# cosmic-ray changes the module in place for each mutant and puts it back; the session (which mutants
# were tried, which survived) is kept in tests/mutation/NAME.sqlite (git-ignored), so an interrupted run
# goes on where it stopped; RETRY_SURVIVORS=1 tries only the survivors again. Survivors: cr-report --show-output tests/mutation/NAME.sqlite --surviving-only
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONDONTWRITEBYTECODE=1  # never a stale .pyc of a mutant
find common [0-9]*_* -name __pycache__ -prune -exec rm -rf {} +  # nor an old one
# a config whose test-command is tests/mutation/warm.py: its pytest forks from a process that imported torch
if grep -q "warm.py run" $(printf 'tests/mutation/%s.toml ' "$@"); then
    python tests/mutation/warm.py serve &
    trap 'python tests/mutation/warm.py stop; wait' EXIT
    until [ -S tests/mutation/.warm.sock ]; do sleep 1; done
fi
for name in "$@"; do
    cfg=tests/mutation/$name.toml db=tests/mutation/$name.sqlite
    if [ ! -f "$db" ]; then
        cosmic-ray init "$cfg" "$db"
        cr-filter-operators "$db" "$cfg"
        python tests/mutation/keep_functions.py "$db" "$cfg"
    fi
    # seen twice here: an init run after another module's exec recorded no mutants; say so, don't report "0 jobs"
    python -c "import sqlite3, sys; sys.exit(not sqlite3.connect(sys.argv[1]).execute('select count(*) from work_items').fetchone()[0])" "$db" \
        || { echo "$db holds no mutants: delete it and run again" >&2; exit 1; }
    if [ "${RETRY_SURVIVORS:-}" = 1 ]; then  # after new tests: only the survivors are tried again
        python -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"delete from work_results where test_outcome = 'SURVIVED'\"); c.commit()" "$db"
    fi
    # the tests must pass on the module as it is, else every mutant would read as killed
    cmd=$(python -c "import sys, tomllib; print(tomllib.load(open(sys.argv[1], 'rb'))['cosmic-ray']['test-command'])" "$cfg")
    bash -c "$cmd" > /dev/null || { echo "$name: the tests fail without a mutant: $cmd" >&2; exit 1; }
    cosmic-ray exec "$cfg" "$db"
    ! git rev-parse 2>/dev/null || git diff --quiet -- "$(sed -n 's/^module-path = "\(.*\)"/\1/p' "$cfg")"  # put back
    cr-report "$db" | tail -n 3
done
