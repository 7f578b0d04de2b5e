"""PRIME's step costs on the small GPT: rollout generation with the KV cache (tokens/s), the same
rollouts generated without a cache (one full forward per new token), and the training passes of
one RL step (policy PPO update; PRM + reference forward and PRM update), in tokens/s.

    .venv/bin/python benchmarks/prime_throughput.py [--threads 1] [--prompts 16] [--samples 4]
                                                    [--layers 3] [--embd 64]

Target: with the cache, generation should not dominate a PRIME step.
"""
from __future__ import annotations

import argparse
import time

import torch

from paperlib.nn.gpt import GPT, generate
from paperlib.data import arithmetic
from paperlib.prime.sft import SFTConfig, encode_prompts
from paperlib.prime.trainer import RLConfig, policy_update, prm_step, rollout, rloo_returns, outcome_rewards


@torch.no_grad()
def generate_without_cache(model, x, xm, max_new, eos):
    tokens, mask = x, xm
    done = torch.zeros(len(x), dtype=torch.bool)
    for _ in range(max_new):
        logits = model(tokens, mask)[:, -1]
        tok = torch.where(done, torch.zeros_like(done, dtype=torch.long), logits.argmax(-1))
        done = done | (tok == eos)
        tokens = torch.cat([tokens, tok[:, None]], 1)
        mask = torch.cat([mask, (tok != 0)[:, None]], 1)
        if bool(done.all()):
            break
    return tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--embd", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sft_cfg = SFTConfig(n_layer=a.layers, n_embd=a.embd, max_digits=2, width=3, min_terms=3, max_terms=7, block_size=128)
    torch.manual_seed(0)
    model = GPT(sft_cfg.gpt_config()).eval()
    # a random model rarely stops: bound the response by the longest worked solution
    probs = arithmetic.sample_problems(a.prompts * a.samples, 0, 7, 7, 2, width=3)
    max_new = max(len(arithmetic.encode(p.solution)) for p in arithmetic.sample_problems(50, 1, 7, 7, 2, 0.0, 3)) + 1
    cfg = RLConfig(n_samples=a.samples, batch_prompts=a.prompts, max_new_tokens=max_new, acc_low=0.0)
    print(f"model: {model.num_params():,} parameters; batch {a.prompts} prompts x {a.samples} samples, "
          f"{max_new} new tokens; {a.threads} thread(s)")

    def timed(fn):
        best = float("inf")
        for _ in range(a.repeats):
            t = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t)
        return best, out

    gen = torch.Generator().manual_seed(0)
    t_gen, r = timed(lambda: rollout(model, probs[: a.prompts], cfg, gen))
    n_new = int(r.response_mask.sum())
    x, xm = encode_prompts(probs)
    t_nocache, _ = timed(lambda: generate_without_cache(model, x, xm, max_new, arithmetic.EOS))
    n_tok = int(r.mask.sum())
    policy = GPT(sft_cfg.gpt_config())
    policy.load_state_dict(model.state_dict())
    opt = torch.optim.Adam(policy.parameters(), lr=1e-5)
    gt, gt_mask = outcome_rewards(r)
    adv, _ = rloo_returns([(gt, gt_mask, 1.0)], r.response_mask, a.samples)
    t_pol, _ = timed(lambda: policy_update(policy, opt, r, adv, cfg, gen))
    prm = GPT(sft_cfg.gpt_config())
    prm.load_state_dict(model.state_dict())
    prm_opt = torch.optim.Adam(prm.parameters(), lr=1e-5)
    t_prm, _ = timed(lambda: prm_step(prm, model, r, cfg, prm_opt))
    rows = [("generation, KV cache", t_gen, n_new), ("generation, no cache", t_nocache, n_new),
            ("policy update (old log-probs + PPO)", t_pol, n_tok), ("PRM + reference forward, PRM update", t_prm, n_tok)]
    print(f"{'stage':40s} {'seconds':>8s} {'tokens/s':>10s}")
    for name, t, n in rows:
        print(f"{name:40s} {t:8.3f} {n / t:10.0f}")
    rloo_step = t_gen + t_pol
    prime_step = rloo_step + t_prm
    print(f"RLOO step ~{rloo_step:.2f} s (generation {t_gen / rloo_step:.0%}); "
          f"PRIME step ~{prime_step:.2f} s (generation {t_gen / prime_step:.0%}); "
          f"cache speed-up of generation {t_nocache / t_gen:.1f}x")


if __name__ == "__main__":
    main()
