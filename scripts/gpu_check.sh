#!/usr/bin/env bash
# On a GPU machine: does every paper's full profile start here, and how long would it take?
#   1. `paperlib check all --profile full`: each full profile's path on its smallest slice, on CUDA (the profiles say
#      device / accelerator auto), naming what is missing (data, hub models, checkpoints) with the command that gets it;
#   2. scripts/gpu_bench.py: a few real optimisation steps of each paper's full-size model, printing steps/s, peak GPU
#      memory and the projected hours of the whole full profile (training steps only: a lower bound).
# Under 10 minutes in all on one recent GPU. Output goes to the terminal and to runs/gpu_check/<stamp>/ (runs/ is ignored:
# `git add -f` gpu_check.log and bench.json from there to commit a GPU session's numbers).
# Without a CUDA GPU visible to torch it stops at once with exit code 2.
#   scripts/gpu_check.sh [PAPER ...]        (default: every paper)
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python
if ! why=$("$PY" -c 'import torch; print("" if torch.cuda.is_available() else f"torch {torch.__version__} sees no CUDA GPU (torch.cuda.is_available() is False)")' 2>&1) || [ -n "$why" ]; then
  echo "gpu_check: no GPU to check here: ${why##*$'\n'} (python: $PY; nvidia-smi: $(command -v nvidia-smi >/dev/null && nvidia-smi -L 2>&1 | head -1 || echo 'not found')). Run it on a GPU machine (PYTHON=... to choose the interpreter); on a CPU use \`paperlib check all --profile full\`." >&2
  exit 2
fi
papers=("$@")
[ ${#papers[@]} -gt 0 ] || papers=(all)
out="runs/gpu_check/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
export PAPERLIB_CACHE_DIR="${PAPERLIB_CACHE_DIR:-$PWD/.cache-gpu-check}"
{
  echo "== $(date -u) on $(hostname): $("$PY" -c 'import torch; print(torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)')"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
  echo "== 1. preflight of the full profiles on CUDA"
  t0=$(date +%s)
  "$PY" -m paperlib check "${papers[@]}" --profile full
  rc_check=$?
  echo "   preflight: exit $rc_check in $(( $(date +%s) - t0 )) s"
  echo "== 2. a few real steps of each full-size model (bf16 autocast)"
  t1=$(date +%s)
  bench_papers=()
  [ "${papers[0]}" = all ] || bench_papers=(--papers "${papers[@]}")
  "$PY" scripts/gpu_bench.py --device cuda --steps "${GPU_CHECK_STEPS:-5}" --out "$out/bench.json" "${bench_papers[@]}"
  rc_bench=$?
  echo "   bench: exit $rc_bench in $(( $(date +%s) - t1 )) s; total $(( $(date +%s) - t0 )) s"
  [ "$rc_check" -eq 0 ] && [ "$rc_bench" -eq 0 ]
} 2>&1 | tee "$out/gpu_check.log"
rc=${PIPESTATUS[0]}
echo "gpu_check: exit $rc; log and numbers in $out/"
exit "$rc"
