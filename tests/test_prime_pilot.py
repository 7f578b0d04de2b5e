"""The PRIME tuning pilot: an interrupted or repeated pilot reuses the grid points it has, and a
choice at the upper edge of its grid is flagged."""
import json

from paperlib.prime import pilot
from paperlib.prime.sft import SFTConfig

TINY_SFT = SFTConfig(chunk_examples=300, max_examples=300, n_layer=1, n_embd=32, n_head=2)


def _tiny(monkeypatch, policy_lrs):
    monkeypatch.setattr(pilot, "POLICY_LRS", policy_lrs)
    monkeypatch.setattr(pilot, "PRM_LRS", (1e-5,))
    monkeypatch.setattr(pilot, "BETAS", (0.05,))
    monkeypatch.setattr(pilot, "BASE", dict(pilot.BASE, batch_prompts=2, eval_every=100, min_terms=3, max_terms=3))


def test_pilot_reuses_its_grid_points_and_flags_edge_choices(tmp_path, monkeypatch):
    _tiny(monkeypatch, (1e-5, 3e-5))
    out = tmp_path / "pilot.json"
    logs = []
    first = pilot.main(str(out), workers=1, steps=10, sft_cfg=TINY_SFT, eval_prompts=4, log=logs.append)
    assert len(first["curves"]) == 5  # 2 arms x 2 policy lrs, then 1 PRIME point
    assert all(len(c) == 10 for _, c in first["curves"])
    assert set(first["edge_choices"]) <= {"rloo_policy_lr", "oracle_policy_lr"}
    assert ("rloo_policy_lr" in first["edge_choices"]) == (first["chosen"]["rloo_policy_lr"] == 3e-5)
    assert not any("reused" in m for m in logs)
    logs.clear()
    again = pilot.main(str(out), workers=1, steps=10, sft_cfg=TINY_SFT, eval_prompts=4, log=logs.append)
    assert [m for m in logs if "reused" in m] == [f"4 of 4 grid points reused from {out}",
                                                 f"1 of 1 grid points reused from {out}"]
    assert again["policy_lr_grid"] == first["policy_lr_grid"] and again["chosen"] == first["chosen"]
    # another base setting (here: the number of steps) reruns every point
    logs.clear()
    pilot.main(str(out), workers=1, steps=11, sft_cfg=TINY_SFT, eval_prompts=4, log=logs.append)
    assert not any("reused" in m for m in logs)
    assert all(len(c) == 11 for _, c in json.loads(out.read_text())["curves"])
