"""PRIME's SFT stage: the shared SFT policy of the chain-sum task (``paperlib.rl.sft``), re-exported
under its former name for PRIME's notebook, pilot and benchmark."""
from ..rl.sft import SFTConfig, encode_prompts, encode_solutions, entropy_floor, train_sft

__all__ = ["SFTConfig", "encode_prompts", "encode_solutions", "entropy_floor", "train_sft"]
