"""The vision bench under the protocol on digits: budgets, equal tuning on validation images, seeds, verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.vision.fast import TINY_TRAIN
from vision.bench import BenchConfig
from vision.cli import main
from vision.fairbench import SEARCH_SPACES, VisionTask
from vision.fairreport import run_fair_bench
from vision.regenerate_docs import rerender_docs

CONFIG = BenchConfig(dataset="digits", n_train=None, n_test=None, train=TINY_TRAIN, cache=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("fair")
    return run_fair_bench(CONFIG, profile="smoke", methods=("graddiff", "ofmu"), out=out)


def test_every_method_gets_the_budget_the_tuning_and_the_seeds(report: dict) -> None:
    level = report["levels"][0]
    assert level["budget_passes"] == report["reference_run"]["passes"] > 0
    for name in ("graddiff", "ofmu"):
        row = level["methods"][name]
        assert [r["seed"] for r in row["per_seed"]] == [1, 2]
        assert all(0 < r["passes"] <= row["budget_passes"] + 1e-9 for r in row["per_seed"])
        tried = row["tuning"]["configs_tried"]
        assert len(tried) == 2 and all(set(t["config"]) == set(SEARCH_SPACES[name]) for t in tried)
        best = max(tried, key=lambda t: t["score"])
        assert row["tuning"]["chosen"] == best["config"]
        assert best["score"][0] == -best["metrics"]["val_gap"]  # selected on the validation images
        assert {"avg_gap", "time_ratio", "passes"} <= set(row["summary"])
    assert report["verdict"]["1x"]["result"] in ("better", "indistinguishable", "worse")
    assert report["verdict"]["1x"]["best_baseline"] == "graddiff"
    assert isinstance(report["target"]["met"], bool)


def test_reports_render_again_from_the_json(report: dict, tmp_path: Path) -> None:
    (tmp_path / "bench.json").write_text(json.dumps(report))
    rerender_docs(tmp_path / "bench.json", tmp_path / "docs")
    text = (tmp_path / "docs" / "bench.md").read_text()
    assert "Verdict" in text and "| ofmu |" in text and "The target" in text
    assert (tmp_path / "docs" / "gap_vs_time_1x.png").read_bytes()[:4] == b"\x89PNG"


def test_validation_gap_uses_validation_images_not_test(report: dict) -> None:
    r = report["levels"][0]["methods"]["ofmu"]["per_seed"][0]
    rt = report["retrain"]
    expected = (abs(r["ua"] - rt["ua"]) + abs(r["ra"] - rt["ra"]) + abs(r["val_acc"] - rt["val_acc"])
                + abs(r["mia_efficacy"] - rt["mia_efficacy"])) / 4
    assert r["val_gap"] == pytest.approx(expected)


def test_cli_refuses_set_and_class_only_under_the_protocol(tmp_path: Path, capsys) -> None:
    base = ["vision", "bench", "--dataset", "digits", "--out", str(tmp_path), "--no-cache"]
    assert main([*base, "--set", "ofmu.rho=1"]) == 2
    assert "--profile single only" in capsys.readouterr().err
    assert main([*base, "--modes", "class"]) == 2
    assert "random forgetting only" in capsys.readouterr().err


def test_task_sizes_the_horizon_to_the_budget(report: dict) -> None:
    # a run's steps times its passes per step never exceeds the budget (the first step excepted)
    for row in report["levels"][0]["methods"].values():
        for r in row["per_seed"]:
            assert r["steps"] >= 1 and r["status"] in ("STOPPED", "MAX_STEPS")
    assert VisionTask.__dataclass_fields__["primary"].default == "avg_gap"


def test_workers_give_the_serial_metrics(report: dict, tmp_path: Path) -> None:
    """--jobs 2: the task goes to two worker processes whole; every metric equals the serial run's."""
    parallel = run_fair_bench(CONFIG, profile="smoke", methods=("graddiff", "ofmu"), out=tmp_path, jobs=2)
    assert parallel["runs"] == {"executed": report["runs"]["executed"], "from_cache": 0, "jobs": 2}
    timing = {"wall_s", "time_ratio"}
    for name, row in report["levels"][0]["methods"].items():
        other = parallel["levels"][0]["methods"][name]
        assert [{k: v for k, v in r.items() if k not in timing} for r in other["per_seed"]] == \
            [{k: v for k, v in r.items() if k not in timing} for r in row["per_seed"]]
        assert other["tuning"]["chosen"] == row["tuning"]["chosen"]
    assert "by 2 worker processes at once" in (tmp_path / "bench.md").read_text()
