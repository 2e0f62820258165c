#!/usr/bin/env bash
# Build the appliance binary dist/xo with PyInstaller (appliance/xo.spec). `make binary` runs it.
#
# Cached: the build is skipped when dist/xo was built from the same inputs (the xo package,
# appliance/, the installed distributions of the venv, the Python version), so the test suite
# and the benchmarks can call it freely. Concurrent callers (several test runs in one tree)
# serialize on a lock and the second one finds the first one's result.
#
# Reproducible: SOURCE_DATE_EPOCH (last commit time) and PYTHONHASHSEED=0 pin what PyInstaller
# would otherwise take from the clock and the hash seed; the inputs are the venv installed
# from pyproject by `make` (a fresh clone: `make binary` needs nothing but `make test`'s venv).
#
# Usage: appliance/build.sh [--force]     prints the path of the binary on its last line.
# XO_BUILD_PYTHON: the interpreter whose environment is frozen (default .venv/bin/python).
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
PYTHON=${XO_BUILD_PYTHON:-$REPO/.venv/bin/python}  # not $PYTHON: the Makefile's means the bootstrap interpreter
DIST=$REPO/dist
WORK=$REPO/build/pyinstaller
BINARY=$DIST/xo
STAMP=$DIST/.xo.inputs

force=0
[ "${1:-}" = "--force" ] && force=1

inputs_hash() {
    {
        "$PYTHON" -c 'import sys; print(sys.version)'
        "$PYTHON" -m pip freeze --exclude-editable 2>/dev/null
        find xo appliance -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 \
            | LC_ALL=C sort -z | xargs -0 sha256sum
    } | sha256sum | cut -d' ' -f1
}

up_to_date() {
    [ -x "$BINARY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$1" ]
}

mkdir -p "$DIST" "$WORK"
exec 9>"$WORK/.lock"
flock 9

hash=$(inputs_hash)
if [ $force = 0 ] && up_to_date "$hash"; then
    echo "dist/xo is up to date ($hash)" >&2
    echo "$BINARY"
    exit 0
fi

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
export PYTHONHASHSEED=0
staging=$WORK/dist
rm -rf "$staging"
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$staging" --workpath "$WORK" appliance/xo.spec >&2
# Rename into place: running copies keep their inode, readers never see a half-written file.
mv -f "$staging/xo" "$BINARY"
echo "$hash" >"$STAMP"
echo "built dist/xo ($(du -h "$BINARY" | cut -f1), inputs $hash)" >&2
echo "$BINARY"
