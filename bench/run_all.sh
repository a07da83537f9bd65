#!/bin/sh
# Run every benchmark at full size, one after another, against a snapshot of the committed
# tree (HEAD), so that edits in progress in the work tree neither break nor colour the run.
# Results go to bench/results/<name>.json and a log to bench/results/<name>.txt.
#   bench/run_all.sh [PYTHON] [--quick]      (PYTHON defaults to the one on PATH)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${1:-python3}
shift || true
commit=$(git -C "$here/.." log -1 --format=%h HEAD -- src)
snapshot=$(mktemp -d /var/tmp/corral-snapshot-XXXXXX)
trap 'rm -rf "$snapshot"' EXIT
git -C "$here/.." archive HEAD src | tar -x -C "$snapshot"
echo "$commit" > "$snapshot/COMMIT"
mkdir -p "$here/results"
for name in ${BENCHMARKS:-throughput realexec latency scale plugins peers}; do
    echo "== $name (corral $commit)" >&2
    PYTHONPATH="$snapshot/src" "$python" "$here/$name.py" --json "$@" \
        > "$here/results/$name.json" 2> "$here/results/$name.txt" || true
done
