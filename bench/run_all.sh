#!/bin/sh
# Run every benchmark at full size, one after another, against a snapshot of the committed
# tree (HEAD), so that edits in progress in the work tree neither break nor colour the run;
# with WORKTREE=1, against a copy of the work tree's src/ as it is now (labelled HEAD+wt).
# Results go to bench/results/<commit of src>/<name>.json, the table to <name>.txt.
# The snapshot is byte-compiled first and PYTHONDONTWRITEBYTECODE is cleared, so that the
# CLI and the controller start from .pyc files as an installed corral does.
#   bench/run_all.sh [PYTHON] [--quick]      (PYTHON defaults to the one on PATH)
# BENCHMARKS="throughput realexec" runs only those; SUFFIX=.2 writes <name>.2.json (a repeat);
# REV=392affb measures that commit's src/ instead of HEAD's.
set -eu
unset PYTHONDONTWRITEBYTECODE
here=$(cd "$(dirname "$0")" && pwd)
python=${1:-python3}
shift || true
rev=${REV:-HEAD}
commit=$(git -C "$here/.." log -1 --format=%h "$rev" -- src)
snapshot=$(mktemp -d /var/tmp/corral-snapshot-XXXXXX)
trap 'rm -rf "$snapshot"' EXIT
if [ "${WORKTREE:-0}" = 1 ]; then
    commit="$commit+wt"
    cp -r "$here/../src" "$snapshot/src"
else
    git -C "$here/.." archive "$rev" src | tar -x -C "$snapshot"
fi
"$python" -m compileall -q "$snapshot/src" > /dev/null
echo "$commit" > "$snapshot/COMMIT"
out="$here/results/$commit"
mkdir -p "$out"
if [ "${WORKTREE:-0}" = 1 ]; then
    git -C "$here/.." status --porcelain -- src > "$out/WORKTREE-CHANGES.txt"
fi
for name in ${BENCHMARKS:-throughput realexec reattach latency scale plugins abuse peers}; do
    echo "== $name (corral $commit)" >&2
    PYTHONPATH="$snapshot/src" "$python" "$here/$name.py" --json "$@" \
        > "$out/$name${SUFFIX:-}.json" 2> "$out/$name${SUFFIX:-}.txt" || true
done
