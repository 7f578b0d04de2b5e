"""The wiring of one grid cell (paperlib.mpt.experiment.run_cell): self-training pseudo-labels the pool with the
fine-tuned classifier's probabilities, MPT with the prompt models' averaged probabilities, each final model trains
on the labelled examples plus exactly the pseudo-labels its labeller chose; on a tiny random in-domain MLM."""
import numpy as np
import pytest
import torch

from paperlib.data.academic import Example
from paperlib.data.vocab import WordVocab
from paperlib.mpt import experiment as ex
from paperlib.mpt.cached import TopClassifier, TopPromptModel
from paperlib.mpt.method import TrainConfig
from paperlib.mpt.prompts import OwnBertBackend
from paperlib.mpt.tasks import template_words
from paperlib.nn.bert import BertConfig, BertMLM

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

TEXTS = ["we follow the method of smith", "results agree with prior work", "background on parsing is given",
         "this approach extends their model", "our scores beat the baseline", "prior surveys describe the task"]


@pytest.fixture
def cell_setup():
    torch.manual_seed(0)
    vocab = WordVocab.build(TEXTS, min_count=1, required=template_words())
    backend = OwnBertBackend(BertMLM(BertConfig(len(vocab), 48, 2, 2, 16, dropout=0.0)).eval(), vocab)
    rng = np.random.default_rng(0)
    train = [Example(TEXTS[i % 6] + f" {j}", int(i % 3)) for j, i in enumerate(rng.integers(0, 6, 40))]
    test = [Example(TEXTS[i % 6], int(i % 3)) for i in range(9)]
    small = TrainConfig(steps=2, batch_size=4)
    cfg = ex.CellConfig(max_len=48, train_subset=0, pool_size=20, prompt=small, ft=small, final=small,
                        pseudo_per_k=2, n_top=1)
    inputs = ex.TaskInputs(backend, "scicite", train, test, cfg)
    return inputs, np.array([e.label for e in train]), np.array([e.label for e in test])


def test_run_cell_labellers(cell_setup, monkeypatch):
    inputs, y_train, y_test = cell_setup
    scored, labelled, trained = [], [], []
    real_proba, real_pl, real_train = ex.predict_proba, ex.pseudo_label, ex.train

    def proba(model, items, *a, **k):
        p = real_proba(model, items, *a, **k)
        scored.append((model, items, p))
        return p

    def pl(probs, per_class, *a, **k):
        out = real_pl(probs, per_class, *a, **k)
        labelled.append((np.array(probs), per_class, out))
        return out

    def tr(model, items, labels, c, *a, **k):  # (a, k: the trainer settings)
        trained.append((model, items, np.asarray(labels)))
        return real_train(model, items, labels, c, *a, **k)

    monkeypatch.setattr(ex, "predict_proba", proba)
    monkeypatch.setattr(ex, "pseudo_label", pl)
    monkeypatch.setattr(ex, "train", tr)
    k, seed = 2, 0
    out = ex.run_cell(inputs, k, seed, y_train, y_test)
    lab_idx, pool_idx = ex.sample_low_resource(y_train, 3, k, seed, 20)
    pool_cls = [inputs.items["cls"][0][i] for i in pool_idx]

    assert len(labelled) == 2 and all(pc == 2 * k for _, pc, _ in labelled)
    # self-training: the labeller is the fine-tuned classifier (the first model trained), scored on the pool
    ft_model = trained[0][0]
    assert isinstance(ft_model, TopClassifier) and len(trained[0][2]) == len(lab_idx)
    ft_pool = [p for m, items, p in scored if m is ft_model and len(items) == len(pool_idx)]
    assert len(ft_pool) == 1 and all(a is b for a, b in zip(
        next(items for m, items, _ in scored if m is ft_model and len(items) == len(pool_idx)), pool_cls))
    np.testing.assert_array_equal(labelled[0][0], ft_pool[0])
    # MPT: the labeller is the mean of every template's prompt model on the pool (its own filled inputs)
    prompt_pool = []
    for t in inputs.templates:
        pool_t = [inputs.items[t.name][0][i] for i in pool_idx]
        hits = [p for m, items, p in scored if isinstance(m, TopPromptModel) and len(items) == len(pool_idx)
                and all(a is b for a, b in zip(items, pool_t))]
        assert len(hits) == 1, t.name
        prompt_pool.append(hits[0])
    assert len(prompt_pool) == 4
    np.testing.assert_allclose(labelled[1][0], np.mean(prompt_pool, 0))
    assert not np.allclose(labelled[0][0], labelled[1][0])
    # each final model trains on the labelled examples plus exactly its labeller's pseudo-labels
    finals = [(m, items, y) for m, items, y in trained if isinstance(m, TopClassifier) and m is not ft_model]
    assert len(finals) == 2
    for (m, items, y), (_, _, (idx, lab)), key in zip(finals, labelled, ("self_training", "mpt")):
        np.testing.assert_array_equal(y, np.concatenate([y_train[lab_idx], lab]))
        assert all(a is inputs.items["cls"][0][i] for a, i in zip(items, np.concatenate([lab_idx, pool_idx[idx]])))
        assert out["pseudo"][key]["n"] == len(idx)
        assert out["pseudo"][key]["accuracy"] == pytest.approx(float((y_train[pool_idx][idx] == lab).mean()))
    assert set(out["f1"]) >= set(ex.METHODS)


def test_pseudo_grid_reuses_the_labellers_and_leaves_the_cell_unchanged(cell_setup, monkeypatch):
    """Tuning the pseudo-label k (validation data): the grid's other values train only extra final models on the
    same labellers' probabilities with per-class k = value x K; the cell's own results do not move, and the grid's
    entry at the profile's value is the cell's own."""
    inputs, y_train, y_test = cell_setup
    plain = ex.run_cell(inputs, 2, 0, y_train, y_test)
    calls = []
    real_pl = ex.pseudo_label

    def pl(probs, per_class, *a, **k):
        calls.append((np.array(probs), per_class))
        return real_pl(probs, per_class, *a, **k)

    monkeypatch.setattr(ex, "pseudo_label", pl)
    out = ex.run_cell(inputs, 2, 0, y_train, y_test, pseudo_grid=(1, 2, 3))
    assert out["f1"] == plain["f1"] and out["pred"] == plain["pred"]
    assert set(out["pseudo_grid"]) == {1, 2, 3}
    assert out["pseudo_grid"][2] == {"self_training": out["f1"]["self_training"], "mpt": out["f1"]["mpt"]}
    assert [pc for _, pc in calls] == [4, 4, 2, 2, 6, 6]  # the cell's two, then (ST, MPT) per other value
    st, mpt = calls[0][0], calls[1][0]
    for j in (2, 4):
        np.testing.assert_array_equal(calls[j][0], st)
        np.testing.assert_array_equal(calls[j + 1][0], mpt)
    assert out["pseudo"]["mpt@3"]["n"] >= out["pseudo"]["mpt"]["n"] >= out["pseudo"]["mpt@1"]["n"]
    with pytest.raises(ValueError, match="pseudo_grid"):
        ex.run_cell(inputs, 2, 0, y_train, y_test, pseudo_grid=(-1,))


def test_full_path_on_a_tiny_random_bert(monkeypatch):
    """The full profile's path (a Hugging Face masked LM, the whole LM tuned with each template, no cached
    features) on a tiny BERT built from a config (no download): one cell runs every method, the LM weights of a
    prompt model move while the shared backend's stay, and every model sits on the resolved device."""
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    from paperlib.mpt.prompts import HFBackend, PromptModel

    words = sorted({w for t in TEXTS for w in t.split()} | set(template_words()) | {str(j) for j in range(40)})
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]",
                                               cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=64)
    backend = HFBackend(transformers.BertForMaskedLM(cfg).eval(), tok, "masked")
    before = {k: v.clone() for k, v in backend.model.state_dict().items()}
    rng = np.random.default_rng(0)
    train = [Example(TEXTS[i % 6] + f" {j}", int(i % 3)) for j, i in enumerate(rng.integers(0, 6, 30))]
    test = [Example(TEXTS[i % 6], int(i % 3)) for i in range(6)]
    small = TrainConfig(steps=3, batch_size=4, lr=1e-2, soft_lr=1e-2)
    ccfg = ex.CellConfig(max_len=48, train_subset=0, pool_size=12, prompt=small, ft=small, final=small, n_top=0,
                         device="auto")
    inputs = ex.TaskInputs(backend, "scicite", train, test, ccfg)
    assert not inputs.cached
    built = []
    real = inputs.prompt_model
    monkeypatch.setattr(inputs, "prompt_model", lambda t, s: built.append(real(t, s)) or built[-1])
    out = ex.run_cell(inputs, 2, 0, np.array([e.label for e in train]), np.array([e.label for e in test]))
    assert set(out["f1"]) >= set(ex.METHODS) and all(0.0 <= v <= 1.0 for v in out["f1"].values())
    dev = ex.resolve_device("auto")
    assert all(isinstance(m, PromptModel) and next(m.parameters()).device.type == dev.type for m in built)
    tuned = built[0].lm.state_dict()
    assert any(not torch.equal(tuned[k].cpu(), v) for k, v in before.items())  # the prompt model tuned its LM copy
    assert all(torch.equal(backend.model.state_dict()[k].cpu(), v) for k, v in before.items())  # shared LM intact


def test_device_names():
    assert ex.resolve_device("cpu").type == "cpu"
    assert ex.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device"):
        ex.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA"):
            ex.resolve_device("cuda")


def test_scibert_offline_is_a_clear_error(monkeypatch):
    """Offline with nothing cached, transformers raises OSError from from_pretrained (simulated here, so the test
    never waits on the network): the loader names what to fetch and the offline alternative."""
    transformers = pytest.importorskip("transformers")
    from paperlib.mpt.plm import load_plm

    def offline(*a, **k):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", offline)
    with pytest.raises(RuntimeError, match="SciBERT .* could not be loaded.*plm=inlm"):
        load_plm("scibert", log=lambda m: None)


def test_committed_checkpoint_loads_and_is_checked(tmp_path):
    """The quick profile's LM comes from a folder with a manifest of SHA-256 sums: it loads as the model that was
    saved, and an altered file or a missing manifest is an error."""
    import hashlib
    import json

    from paperlib.mpt.plm import load_plm
    from paperlib.nn.bert import save_bert

    torch.manual_seed(0)
    vocab = WordVocab.build(TEXTS, min_count=1, required=template_words())
    model = BertMLM(BertConfig(len(vocab), 48, 1, 2, 16)).eval()
    save_bert(tmp_path / "model.pt", model, {"config": {"epochs": 1.0}, "final_loss": 5.0, "heldout_loss": 5.5})
    (tmp_path / "vocab.json").write_text(vocab.to_json())
    files = {f: hashlib.sha256((tmp_path / f).read_bytes()).hexdigest() for f in ("model.pt", "vocab.json")}
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"files": files}))
    backend, info = load_plm("inlm", log=lambda m: None, checkpoint=tmp_path)
    assert info["heldout_loss"] == 5.5 and backend.vocab.words == vocab.words
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in backend.model.state_dict().items())
    (tmp_path / "vocab.json").write_text(vocab.to_json() + " ")
    with pytest.raises(ValueError, match="does not match MANIFEST"):
        load_plm("inlm", log=lambda m: None, checkpoint=tmp_path)
    with pytest.raises(FileNotFoundError, match="pretrain_inlm.py"):
        load_plm("inlm", log=lambda m: None, checkpoint=tmp_path / "missing")
