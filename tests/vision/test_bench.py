"""The bench on digits: every method against the Retrain of the same run, failures, seeds, reports."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.vision.fast import FAST, TINY_TRAIN
from vision.bench import BenchConfig, BenchResult, load_bench_data, run_bench
from vision.evaluate import EvalResult
from vision.regenerate_docs import rerender_docs
from vision.report import FILES, markdown, write_report

CONFIG = BenchConfig(dataset="digits", n_train=None, n_test=None, train=TINY_TRAIN, cache=False, overrides=FAST)


@pytest.fixture(scope="module")
def result() -> BenchResult:
    return run_bench(CONFIG, progress=False)


def test_every_method_is_compared_to_the_retrain_of_the_same_run(result: BenchResult) -> None:
    assert [m.mode for m in result.modes] == ["random", "class"]
    for mode in result.modes:
        assert [r.method for r in mode.rows] == ["original", "retrain", *CONFIG.methods]
        retrain = mode.row("retrain")
        assert retrain.avg_gap == 0.0 and retrain.time_ratio == 1.0
        reference = EvalResult(**retrain.metrics)
        assert reference.avg_gap(reference) == 0.0  # Retrain has Avg. Gap 0 against itself
        for row in mode.rows:
            assert row.status == "OK", (row.method, row.message)
            assert row.avg_gap is not None and row.avg_gap >= 0
            if row.method not in ("original", "retrain"):
                assert row.time_ratio == pytest.approx(row.wall_s / retrain.wall_s)
                assert row.metrics["mode"] == mode.mode
    assert result.mode("class").split["forget_class"] == 0
    assert result.mode("class").row("retrain").metrics["ua"] == 100.0  # never saw the class


def test_report_files(result: BenchResult, tmp_path: Path) -> None:
    paths = write_report(result, tmp_path / "out")
    assert [p.name for p in paths] == list(FILES) and all(p.stat().st_size > 0 for p in paths)
    record = json.loads(paths[1].read_text())
    assert record["seed"] == 2 and "torch" in record["versions"] and record["config"]["dataset"] == "digits"
    assert {r["method"] for r in record["modes"][0]["rows"]} >= {"retrain", "ofmu", "salun"}
    text = paths[0].read_text()
    assert "| ofmu | ok |" in text and "## class forgetting" in text
    ofmu = result.mode("random").row("ofmu")
    met = ofmu.avg_gap <= 1.5 and ofmu.time_ratio <= 0.2
    assert f"Target (OFMU's Avg. Gap ≤ 1.5" in text and f"OFMU {'MEETS' if met else 'MISSES'} the target" in text
    assert f"Avg. Gap {ofmu.avg_gap:.2f}" in text
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # atomic: no leftovers
    again = rerender_docs(paths[1], tmp_path / "again")  # regenerate_docs --from-json: the same table
    assert markdown(again) == text and (tmp_path / "again" / "bench.json").read_text() == paths[1].read_text()


def test_a_diverging_method_is_reported_and_does_not_stop_the_bench(tmp_path: Path) -> None:
    config = replace(CONFIG, modes=("random",), methods=("ga", "ft"),
                     overrides={"ga": {"epochs": 2.0, "lr": 1e30}, "ft": FAST["ft"]})
    result = run_bench(config, progress=False)
    ga, ft = result.mode("random").row("ga"), result.mode("random").row("ft")
    assert ga.status == "DIVERGED" and ("diverged" in ga.message or "NaN" in ga.message)
    assert ft.status == "OK" and ft.avg_gap is not None
    assert "| ga | diverged |" in markdown(result)
    write_report(result, tmp_path)  # the plot leaves the diverged method out


def test_same_seed_same_metrics() -> None:
    config = replace(CONFIG, modes=("random",), methods=("ft", "ofmu"))
    a, b = run_bench(config, progress=False), run_bench(config, progress=False)
    for ra, rb in zip(a.mode("random").rows, b.mode("random").rows, strict=True):
        assert ra.metrics == {**rb.metrics, "rte_min": ra.metrics["rte_min"]}
        assert ra.avg_gap == rb.avg_gap


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="forget_fraction must be in"):
        BenchConfig(forget_fraction=1.0)
    with pytest.raises(ValueError, match="forget_fraction must be in"):
        BenchConfig(forget_fraction=0.0)
    with pytest.raises(ValueError, match="valid method names"):
        BenchConfig(methods=("ft", "bad"))
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        BenchConfig(overrides={"ft": {"lrr": 0.1}})
    with pytest.raises(ValueError, match="modes must be"):
        BenchConfig(modes=("sequential",))
    with pytest.raises(ValueError, match="threads must be an int >= 1"):
        BenchConfig(threads=0)
    with pytest.raises(ValueError, match="forget_class=10 does not exist"):
        run_bench(replace(CONFIG, modes=("class",), forget_class=10, methods=("ft",)), progress=False)


def test_missing_fashion_mnist_falls_back_to_digits(tmp_path: Path) -> None:
    data, fallback = load_bench_data(BenchConfig(root=str(tmp_path / "nowhere"), n_train=None, n_test=None))
    assert data.name == "digits" and fallback is not None and "falling back to digits" in fallback
