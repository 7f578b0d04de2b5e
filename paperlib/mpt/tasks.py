"""Templates and verbalizers for the four academic function tasks (Liu et al. 2023, Sec. 3.2 and Table 2 design
manual templates per task; the words here are ours, written for this reproduction's tasks and datasets).

Every template ends with its ``{mask}`` slot (plus at most a full stop), so that the same templates serve a
masked LM and a causal LM. Per task: two manual templates, one soft template (learned vectors only, besides the
input and the slot) and one mixed template (manual words and learned vectors).
"""
from __future__ import annotations

from ..data.academic import LABELS
from .prompts import Template

VERBALIZERS = {
    "acl-arc": [["background"], ["use"], ["comparison"], ["motivation"], ["extension"], ["future"]],
    "scicite": [["background"], ["method"], ["result"]],
    "csabstruct": [["background"], ["objective"], ["method"], ["result"], ["other"]],
    "scierc": [["task"], ["method"], ["metric"], ["material"], ["concept"], ["generic"]],
}

_CITATION = [
    Template("manual-1", "{text} the citation is used as {mask} .", "manual"),
    Template("manual-2", "{text} question : what is the function of this citation ? answer : {mask} .", "manual"),
    Template("soft", "{soft*4} {text} {soft*4} {mask} .", "soft"),
    Template("mixed", "{soft*2} {text} {soft*2} the citation is used as {mask} .", "mixed"),
]
TEMPLATES = {
    "acl-arc": _CITATION,
    "scicite": _CITATION,
    "csabstruct": [
        Template("manual-1", "{text} this sentence describes the {mask} .", "manual"),
        Template("manual-2", "{text} question : what is the role of this sentence in the abstract ? answer : {mask} .",
                 "manual"),
        Template("soft", "{soft*4} {text} {soft*4} {mask} .", "soft"),
        Template("mixed", "{soft*2} {text} {soft*2} this sentence describes the {mask} .", "mixed"),
    ],
    "scierc": [
        Template("manual-1", "{text} in this sentence , {term} is a {mask} .", "manual"),
        Template("manual-2", "{text} question : what kind of term is {term} ? answer : {mask} .", "manual"),
        Template("soft", "{soft*3} {text} {soft*3} {term} {soft*2} {mask} .", "soft"),
        Template("mixed", "{soft*2} {text} {soft*2} in this sentence , {term} is a {mask} .", "mixed"),
    ],
}

for _t, _v in VERBALIZERS.items():
    assert len(_v) == len(LABELS[_t]), _t


def template_words() -> list[str]:
    """Every word a template or verbalizer uses (kept in the in-domain vocabulary as whole tokens)."""
    import re

    words = [w for v in VERBALIZERS.values() for ws in v for w in ws]
    for ts in TEMPLATES.values():
        for t in ts:
            words += re.sub(r"\{[^}]*\}", " ", t.spec).split()
    return list(dict.fromkeys(words))
