"""Online-only datasets: the hub id asked for, and a clear error offline (no network in tests)."""
import pytest

from paperlib.data import MissingDataError, hub


def test_offline_is_a_clear_error_naming_the_dataset(monkeypatch):
    import datasets

    asked = []

    def offline(*args, **kwargs):
        asked.append((args, kwargs))
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(MissingDataError, match="Anthropic/hh-rlhf.*quick profile"):
        hub.load_hh_rlhf("test")
    with pytest.raises(MissingDataError, match="openai/gsm8k"):
        hub.load_gsm8k("train")
    assert asked[0] == (("Anthropic/hh-rlhf",), {"split": "test"})
    assert asked[1] == (("openai/gsm8k", "main"), {"split": "train"})
    with pytest.raises(ValueError, match="splits train and test"):
        hub.load_gsm8k("validation")


def test_gsm8k_final_answer():
    assert hub.gsm8k_answer("She pays 3 * 4 = 12.\n#### 1,200") == "1200"
    with pytest.raises(ValueError, match="no '####'"):
        hub.gsm8k_answer("12")
