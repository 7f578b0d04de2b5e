"""MPT (Mix Prompt Tuning): low-resource academic function recognition from several prompt templates.

Jiawei Liu, Zi Xiong, Yi Jiang, Yongqiang Ma, Wei Lu, Yong Huang, Qikai Cheng. *Low-Resource Multi-Granularity
Academic Function Recognition Based on Multiple Prompt Knowledge.* arXiv:2305.03287, 2023 (The Electronic Library,
2024). No official code is published; this follows the paper's description:

1. manual, soft (learned vectors) and mixed prompt templates with verbalizers turn a sentence into a cloze
   question for a masked LM; one prompt model per template is tuned on the K labelled examples per class
   (:mod:`.prompts`, :func:`.method.train_prompt_model`, :mod:`.tasks`);
2. the templates' averaged class probabilities pseudo-label an unlabelled pool (:func:`.method.pseudo_label`);
3. the LM with a classification head is fine-tuned on the labelled plus pseudo-labelled examples
   (:func:`.method.train_classifier`).

:func:`.experiment.run_grid` runs every method (fine-tuning, each prompt, the prompt ensemble, self-training, MPT)
per task, K and seed; :mod:`.claims` turns its cells into the per-seed values the claims read.
"""
from .claims import gain_over, per_seed_f1
from .experiment import METHODS, CellConfig, run_grid, task_subsets
from .method import TrainConfig, macro_f1, pseudo_label
from .plm import InLMConfig, load_plm
from .prompts import HFBackend, OwnBertBackend, PromptModel, Template, fill
from .tasks import TEMPLATES, VERBALIZERS

__all__ = ["METHODS", "CellConfig", "run_grid", "task_subsets", "TrainConfig", "macro_f1", "pseudo_label",
           "InLMConfig", "load_plm", "HFBackend", "OwnBertBackend", "PromptModel", "Template", "fill",
           "TEMPLATES", "VERBALIZERS", "per_seed_f1", "gain_over"]
