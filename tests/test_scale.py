"""Paper scale: every full profile declares its resources and a preflight, and `paperlib check all --profile full`
runs each one's path on a CPU-only machine, naming what is missing; device and precision come from parameters."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from paperlib import preflight
from paperlib.repro.registry import papers
from paperlib.training import autocast, resolve_device, trainer_settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_full_profile_declares_resources_and_a_preflight():
    for slug, paper in papers().items():
        res = paper.resources("full")
        assert {"gpus", "cpus", "mem_gb", "hours"} <= set(res), slug
        shrink = paper.preflight("full")
        assert shrink, f"{slug} declares no preflight for its full profile"
        paper.resolve("full", shrink)  # every override is a parameter of the notebook, of its type


def test_device_auto_falls_back_to_the_cpu_and_cuda_without_a_gpu_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert trainer_settings("auto", "32-true")["accelerator"] == "cpu"
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="cpu, cuda"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert trainer_settings("auto", "bf16-mixed") == {"accelerator": "gpu", "devices": 1, "strategy": "auto",
                                                      "precision": "bf16-mixed"}


def test_precision_32_true_leaves_cpu_numbers_alone_and_bf16_mixed_autocasts():
    a, b = torch.randn(8, 8), torch.randn(8, 8)
    with autocast("cpu", "32-true"):
        assert (a @ b).dtype == torch.float32
    with autocast("cpu", "bf16-mixed"):
        assert (a @ b).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="precision must be one of"):
        autocast("cpu", "fp8")


def test_an_unreachable_hub_model_is_known_in_seconds(monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    t0 = time.perf_counter()
    assert preflight.hub_model_available("allenai/scibert_scivocab_uncased") is False
    assert time.perf_counter() - t0 < 5


def test_the_scibert_stand_in_has_its_interface_and_a_preflight_names_the_fetch_command(tmp_path, monkeypatch):
    from paperlib.mpt import plm
    from paperlib.mpt.tasks import VERBALIZERS

    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setenv(preflight.PREFLIGHT_ENV, "1")
    monkeypatch.setenv(preflight.PREFLIGHT_LOG_ENV, str(tmp_path / "missing.jsonl"))
    backend, info = plm.load_scibert(log=lambda m: None)
    assert info["standin"] and backend.kind == "masked"
    for words in VERBALIZERS.values():  # every label word is one token, as SciBERT's are
        for ws in words:
            assert all(backend.label_word_id(w) not in (backend.tok.unk_token_id,) for w in ws)
    item, = preflight.read_log(tmp_path / "missing.jsonl")
    assert "SciBERT" in item["missing"] and "from_pretrained('allenai/scibert_scivocab_uncased')" in item["fix"]
    monkeypatch.delenv(preflight.PREFLIGHT_ENV)
    with pytest.raises(RuntimeError, match="SciBERT"):  # outside a preflight: the loader's own error
        plm.load_scibert(log=lambda m: None)


#: what each full profile's preflight must name as missing on a fresh CPU-only machine without network, and the
#: command it must print for it (None: the line itself is the check)
EXPECTED_MISSING = {
    "compsum": [("CIFAR10", None)],
    "mpt": [("SciBERT (allenai/scibert_scivocab_uncased", "from_pretrained('allenai/scibert_scivocab_uncased')")],
    "rnafm": [("RNA-FM checkpoint at scale 'paper'", "python -m paperlib.rnafm.pretrain --scale paper"),
              ("RNA corpus of 100,000 cmemit samples per family", "load_corpus(CorpusConfig(")],
    "prime": [], "alol": [], "funbat": [], "dapo": [], "flgfn": [],
}


def test_every_paper_is_covered_by_a_full_profile_check_test():
    assert set(papers()) == set(EXPECTED_MISSING)


@pytest.fixture(scope="module")
def check_all(tmp_path_factory):
    """`paperlib check all --profile full --jobs 2`, once: {slug: its report lines}, and the whole run."""
    # an empty cache (nothing pretrained or built yet) and no hub access: what a fresh CPU-only CI machine has
    cache = tmp_path_factory.mktemp("check-cache")
    env = {**os.environ, "PAPERLIB_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "paperlib", "check", "all", "--profile", "full", "--jobs", "2"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    print(f"check all --profile full --jobs 2: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    blocks, slug = {}, None
    for line in out.stderr.splitlines():
        head = line.split()
        if len(head) >= 2 and head[0] in ("ok", "FAILED") and head[1] in papers():
            slug = head[1]
            blocks[slug] = []
        if slug:
            blocks[slug].append(line)
    return out, blocks


@pytest.mark.slow
def test_check_all_passes(check_all):
    out, blocks = check_all
    assert out.returncode == 0, out.stderr[-4000:]
    assert sorted(blocks) == sorted(papers()), out.stderr[-4000:]


@pytest.mark.slow
@pytest.mark.parametrize("slug", sorted(EXPECTED_MISSING))
def test_check_full_profile_runs_on_cpu_and_names_what_is_missing(slug, check_all):
    """Each paper's part of `paperlib check all --profile full`: its path ran on the CPU, and exactly what is
    missing here is named, with the command that gets it."""
    out, blocks = check_all
    assert slug in blocks, f"{slug} has no report line:\n{out.stderr[-4000:]}"
    text = "\n".join(blocks[slug])
    assert f"ok      {slug} [full] ran on its smallest slice" in text and "on CPU" in text, text[-4000:]
    named = [ln for ln in blocks[slug] if "missing here (a stand-in was used)" in ln]
    assert len(named) == len(EXPECTED_MISSING[slug]), text
    for what, fix in EXPECTED_MISSING[slug]:
        assert f"missing here (a stand-in was used): {what}" in text, what
        assert fix is None or fix in text, fix


def test_gpu_check_stops_clearly_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: scripts/gpu_check.sh would run")
    out = subprocess.run(["bash", "scripts/gpu_check.sh"], cwd=ROOT, env={**os.environ, "PYTHON": sys.executable},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "no GPU to check here" in out.stderr and "sees no CUDA GPU" in out.stderr


def test_gpu_bench_times_real_steps_and_projects_the_profile(tmp_path):
    """The benchmark's own code on the CPU (one step of A-LoL's full-size model; funbat needs no GPU)."""
    import json

    out = subprocess.run([sys.executable, "scripts/gpu_bench.py", "--device", "cpu", "--steps", "1", "--precision",
                          "32-true", "--papers", "alol", "funbat", "--out", str(tmp_path / "bench.json")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    row, = json.loads((tmp_path / "bench.json").read_text())
    assert row["paper"] == "alol" and row["sec_per_step"] > 0
    assert row["projected_hours"] == pytest.approx(row["sec_per_step"] * row["work_steps"] / 3600)
    assert "funbat" in out.stdout and "runs on CPU cores" in out.stdout
    out = subprocess.run([sys.executable, "scripts/gpu_bench.py", "--device", "cuda", "--papers", "alol"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    if not torch.cuda.is_available():
        assert out.returncode == 2 and "no CUDA GPU" in out.stderr
