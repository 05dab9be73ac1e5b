"""Training through the core: loss goes down, seeds reproduce, the cache round-trips atomically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vision.data import VisionDataset
from vision.evaluate import predict_proba
from ofmu_theory.runinfo import torch_threads
from vision.train import TrainConfig, cache_key, cache_root, load_or_train, train_model

TINY = TrainConfig(width=8, epochs=5, lr=0.05, batch_size=32)


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_training_runs_through_the_core_and_fits(digits: VisionDataset) -> None:
    rows = np.arange(600)
    trained = train_model(digits, rows, config=TINY, seed=1)
    assert trained.status == "MAX_STEPS" and trained.nit == 5 * 19 and not trained.cached
    probs = predict_proba(trained.model, digits.train.images, indices=rows)
    acc = (probs.argmax(1) == digits.train.labels[rows]).mean()
    assert acc > 0.5  # 10 classes: chance is 0.1
    again = train_model(digits, rows, config=TINY, seed=1)
    for a, b in zip(_weights(trained.model), _weights(again.model), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_cache_round_trip(digits: VisionDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFMU_CACHE", str(tmp_path))
    assert cache_root() == tmp_path / "vision"
    rows = np.arange(300)
    first = load_or_train(digits, rows, config=TINY, seed=2, name="D")
    assert not first.cached and first.path is not None and first.path.parent == tmp_path / "vision"
    assert first.path.name == cache_key(digits, rows, config=TINY, seed=2)
    assert first.path.name.startswith("digits-small_cnn-") and first.path.name.endswith("-2")
    meta = json.loads((first.path / "meta.json").read_text())
    assert meta["seed"] == 2 and meta["config"]["epochs"] == 5 and "torch" in meta["versions"]
    assert not list(first.path.glob(".*"))  # no temporary files left behind
    second = load_or_train(digits, rows, config=TINY, seed=2, name="D")
    assert second.cached and second.wall_s == pytest.approx(first.wall_s)
    for a, b in zip(_weights(first.model), _weights(second.model), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # a different recipe, seed or row set is a different entry
    keys = {cache_key(digits, rows, config=TINY, seed=2), cache_key(digits, rows, config=TINY, seed=3),
            cache_key(digits, rows[:-1], config=TINY, seed=2),
            cache_key(digits, rows, config=TrainConfig(width=8, epochs=4, lr=0.05, batch_size=32), seed=2)}
    with torch_threads(torch.get_num_threads() + 1):  # another thread count trains other weights
        keys.add(cache_key(digits, rows, config=TINY, seed=2))
    assert len(keys) == 5


def test_bad_recipe_is_rejected() -> None:
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        TrainConfig(lr=0.0)
    with pytest.raises(ValueError, match="bn_mode must be one of"):
        TrainConfig(bn_mode="none")
