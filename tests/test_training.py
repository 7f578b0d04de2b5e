"""Lightning glue: seeding, the trainer factory, global batch, and a two-process CPU run."""
import pytest
import torch

from paperlib.training import TensorDataModule, batch_loader, make_trainer, seed_everything


def test_seed_everything_repeats_draws():
    seed_everything(3)
    a = torch.randn(4)
    seed_everything(3)
    assert torch.equal(a, torch.randn(4))


def test_batch_loader_yields_whole_batches_reproducibly():
    x, y = torch.arange(10).float()[:, None], torch.arange(10)
    batches = [b for b in batch_loader(x, y, batch_size=4, shuffle=True, seed=1)]
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat([b[1] for b in batches]).tolist()) == list(range(10))
    again = [b for b in batch_loader(x, y, batch_size=4, shuffle=True, seed=1)]
    assert all(torch.equal(a[1], b[1]) for a, b in zip(batches, again))


def test_make_trainer_rejects_unknown_settings():
    with pytest.raises(ValueError, match="unknown trainer setting"):
        make_trainer({"acelerator": "cpu"})


def _toy(n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return x, y


@pytest.mark.slow
def test_two_process_ddp_spawn_trains_a_real_module():
    from paperlib.compsum import CompSumClassifier, clean_accuracy
    from paperlib.nn import MLP

    from torch.multiprocessing.spawn import ProcessExitedException

    for attempt in range(2):
        seed_everything(0)
        net = MLP(8, (16,), 2)
        module = CompSumClassifier(net, method="comp_sum", tau=1.0, lr=0.05)
        before = [p.detach().clone() for p in net.parameters()]
        dm = TensorDataModule(_toy(), _toy(256, 1), batch_size=64)
        trainer = make_trainer({"accelerator": "cpu", "devices": 2, "strategy": "ddp_spawn"}, max_epochs=3)
        try:
            trainer.fit(module, datamodule=dm)
            break
        except ProcessExitedException as e:
            # gloo's worker threads sometimes abort at process exit after training finished
            # ("terminate called without an active exception"); one retry, a second abort fails
            if attempt or e.signal_name != "SIGABRT":
                raise
    assert trainer.world_size == 2
    # weights trained in the two worker processes come back to this one
    assert any(not torch.equal(a, b) for a, b in zip(before, module.net.parameters()))
    x, y = _toy(256, 2)
    assert clean_accuracy(module.eval(), x, y) > 0.8
