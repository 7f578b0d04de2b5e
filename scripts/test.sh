#!/usr/bin/env bash
# Set up, then run the test suite. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Caches (derived data, checkpoints) of a test run stay out of the user's cache.
export PAPERLIB_CACHE_DIR="${PAPERLIB_CACHE_DIR:-$PWD/.cache-test}"
set +e
# --durations: the slowest tests are printed at the end, so the 15-minute CI budget can be watched
.venv/bin/python -m pytest -q --durations=25 "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  # pytest exit 5 = no test collected. A filtered run (-k/-m/paths) may legitimately select
  # nothing; the whole suite never should.
  if [ "$#" -gt 0 ]; then echo "no test matched: $*" >&2; exit 0; fi
  echo "pytest collected no tests: the suite should never be empty" >&2
  exit 1
fi
exit "$rc"
