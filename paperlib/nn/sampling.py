"""The token-sampling loop shared by the small GPT (``paperlib.nn.gpt.generate``) and the Hugging
Face adapter (``paperlib.nn.hf.HFCausalLM.generate``): one copy, so both sample alike (same banned
tokens, same EOS/padding rule, same random-number use for a given generator)."""
from __future__ import annotations

from typing import Callable

import torch


def sample_responses(first_logits: torch.Tensor, step: Callable, prompts: torch.Tensor, prompt_mask: torch.Tensor,
                     max_new_tokens: int, eos_id: int, pad_id: int, temperature: float = 1.0,
                     generator: torch.Generator | None = None, greedy: bool = False,
                     banned_ids: tuple[int, ...] = ()) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample up to ``max_new_tokens`` per row after left-padded ``prompts`` (B, P).

    ``first_logits`` (B, P, V): the model's logits over the prompts. ``step(tok, mask, positions)``
    returns the logits (B, 1 or T, V) after appending ``tok`` (B,), given the attention ``mask``
    (B, T) so far and each row's next position (B, 1). Each response ends with ``eos_id`` (kept) and
    ``pad_id`` after; ``pad_id`` and ``banned_ids`` are never sampled. Returns (tokens (B, P + L),
    pad_mask (B, P + L))."""
    banned = torch.tensor(sorted({pad_id, *banned_ids}), device=prompts.device)
    B = prompts.shape[0]
    logits, mask = first_logits, prompt_mask
    next_pos = prompt_mask.long().sum(1, keepdim=True)
    done = torch.zeros(B, dtype=torch.bool, device=prompts.device)
    out = []
    for _ in range(max_new_tokens):
        last = logits[:, -1].float()
        last[:, banned] = float("-inf")
        if greedy:
            tok = last.argmax(-1)
        else:
            probs = torch.softmax(last / temperature, dim=-1)
            tok = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        tok = torch.where(done, torch.full_like(tok, pad_id), tok)
        out.append(tok)
        done = done | (tok == eos_id)
        if bool(done.all()):
            break
        mask = torch.cat([mask, ~done[:, None] | (tok == eos_id)[:, None]], dim=1)
        logits = step(tok, mask, next_pos)
        next_pos = next_pos + 1
    resp = torch.stack(out, dim=1) if out else prompts.new_zeros((B, 0))
    return torch.cat([prompts, resp], dim=1), torch.cat([prompt_mask, resp != pad_id], dim=1)
