"""evaluate(): batched eval-mode inference composed with the metrics, checked against SalUn's recipe."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.svm import SVC

from ofmu_theory.io import write_json
from tests.vision.conftest import make_tiny_dataset
from vision.evaluate import EvalResult, evaluate, predict_proba
from vision.models import build_model
from vision.splits import make_split


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return build_model("resnet18", in_channels=1, num_classes=10, width=4, seed=0)


def test_predict_proba_batches_restore_mode_and_sum_to_one(digits, model) -> None:
    images = digits.test.images[:50]
    model.train()
    a = predict_proba(model, images, batch_size=7)
    assert model.training  # mode restored
    b = predict_proba(model, images, batch_size=50)
    assert a.shape == (50, 10) and a.dtype == np.float32
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # eval mode: batch size does not matter
    c = predict_proba(model, digits.test.images, indices=np.arange(50)[::-1], batch_size=16)
    np.testing.assert_allclose(c, a[::-1], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="batch_size"):
        predict_proba(model, images, batch_size=0)


def test_evaluate_matches_salun_recipe(digits, model) -> None:
    split = make_split(digits, mode="random", forget_fraction=0.1, seed=2)
    result = evaluate(model, digits, split, batch_size=128, wall_s=120.0)

    # SalUn's recipe, independently: softmax, gather true-label prob, members = retain[:|test|].
    def probs(images):
        with torch.no_grad():
            return torch.softmax(model.eval()(torch.from_numpy(np.array(images))), dim=-1)

    def conf(idx, part):
        p = probs(part.images[idx])
        return torch.gather(p, 1, torch.from_numpy(part.labels[idx])[:, None]).numpy(), p.argmax(1).numpy()

    c_forget, pred_forget = conf(split.forget, digits.train)
    c_retain, pred_retain = conf(split.retain, digits.train)
    c_test, pred_test = conf(split.test, digits.test)
    n = split.test.size
    clf = SVC(C=3, gamma="auto", kernel="rbf").fit(np.concatenate([c_retain[:n], c_test]),
                                                  np.r_[np.ones(n), np.zeros(n)])
    assert result.mia_efficacy == pytest.approx(100.0 * (1 - clf.predict(c_forget).mean()))
    assert result.ua == pytest.approx(100.0 - 100.0 * np.mean(pred_forget == digits.train.labels[split.forget]))
    assert result.ra == pytest.approx(100.0 * np.mean(pred_retain == digits.train.labels[split.retain]))
    assert result.ta == pytest.approx(100.0 * np.mean(pred_test == digits.test.labels[split.test]))
    assert result.rte_min == pytest.approx(2.0) and result.val_acc is not None
    assert result.avg_gap(result) == 0.0
    assert (result.n_forget, result.n_test) == (split.forget.size, split.test.size)


def test_evaluate_class_wise_and_record(digits, model, tmp_path) -> None:
    split = make_split(digits, mode="class", forget_class=3, seed=2)
    result = evaluate(model, digits, split)
    assert result.n_test == int(np.sum(digits.test.labels != 3)) and result.forget_class == 3
    assert result.rte_min is None
    write_json(tmp_path / "eval.json", result)
    assert set(result.to_dict()) == set(EvalResult.__dataclass_fields__)
    assert (tmp_path / "eval.json").read_text().count('"ua"') == 1


def test_evaluate_rejects_small_retain_set_and_foreign_split(digits, model) -> None:
    tiny = make_tiny_dataset(n_per_class=5, n_test_per_class=10, num_classes=4, size=8)
    split = make_split(tiny, mode="random", forget_fraction=0.2, val_fraction=0.0, seed=2)
    tiny_model = build_model("small_cnn", in_channels=1, num_classes=4, width=4, seed=0)
    with pytest.raises(ValueError, match=r"\|D_r\|=16 < \|test\|=40"):
        evaluate(tiny_model, tiny, split)
    with pytest.raises(ValueError, match="was not drawn from digits"):
        evaluate(model, digits, split)
