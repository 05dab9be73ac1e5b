"""``python -m llm.benchmark`` on the micro model: the pass counts the docs derive, the tables, the report."""

from __future__ import annotations

import json

import pytest

from llm.benchmark import main, reproducing_argv


def test_reproducing_argv_drops_output_paths():
    assert reproducing_argv(["--model", "embedded", "--json", "/x/a.json", "--write-docs", "/x/b.md"]) == [
        "--model", "embedded", "--write-docs"]
    assert reproducing_argv(["--quality", "/x/q.json", "--steps", "2"]) == [
        "--quality", "QUALITY_JSON", "--steps", "2", "--write-docs"]
    assert reproducing_argv(["--write-docs", "--steps", "2", "--json=/x/a.json"]) == ["--steps", "2", "--write-docs"]


def test_benchmark_counts_passes_and_writes_the_report(tmp_path):
    report, raw = tmp_path / "perf.md", tmp_path / "perf.json"
    args = ["--size", "micro", "--steps", "1", "--warmup", "1", "--batch-size", "4", "--inner-steps", "2",
            "--methods", "grad_ascent,grad_diff", "--json", str(raw), "--write-docs", str(report)]
    assert main(args) == 0
    data = json.loads(raw.read_text())
    rows = {r["label"]: r for r in data["reports"][0]["rows"]}
    assert all(r["finite"] and r["status"] == "MAX_STEPS" for r in rows.values()), rows
    # the pass counts of the document's table, here with T = 2 inner steps (T + 1 = 3 forget batches per step)
    T = 2
    expected = {
        "grad_ascent": {"F.grad": 1}, "grad_diff": {"F.grad": 1, "R.grad": 1},
        "ofmu fd central, β=0": {"F.grad": T + 3, "R.grad": 1},
        "ofmu fd forward, β=0": {"F.grad": T + 2, "R.grad": 1},
        "ofmu fd central, β=0.1": {"F.grad": 3 * T + 9, "R.grad": 3 * T + 9},
        "ofmu fd forward, β=0.1": {"F.grad": 2 * T + 4, "R.grad": 2 * T + 4},
    }
    for label, passes in expected.items():
        assert rows[label]["passes"] == passes, label
        assert rows[label]["bare_s"] > 0 and rows[label]["step_s"] > 0
    # the cheaper estimators (docs' second table): frozen curvature, and one random HVP per ∇Φ on top of it
    assert rows["ofmu fd forward, β=0.1, frozen"]["passes"] == {"F.grad": 2 * T + 3, "R.grad": 2 * T + 2}
    random = rows["ofmu fd forward, β=0.1, random + frozen"]["passes"]
    assert random["F.grad"] + random["R.grad"] == 3 * T + 4
    frozen_error = rows["ofmu fd forward, β=0.1, frozen"]["estimator_error"]
    assert frozen_error["grad_phi_max"] == 0.0 and frozen_error["step_mean"] > 0.0  # only the outer step changes
    for label, row in rows.items():
        assert (row["estimator_error"] is not None) == (label in {
            "ofmu fd forward, β=0.1, frozen", "ofmu fd forward, β=0.1, random + frozen", "ofmu fd forward, β=0.1, lag 2",
            "ofmu fd forward, β=0.1, lag 2 + random", "ofmu fd forward, β=0.1, lag 4", "ofmu exact, β=0.1, frozen"}), label
    exact_frozen = rows["ofmu exact, β=0.1, frozen"]
    assert exact_frozen["third"] == 0 and not any(k.endswith(".graph") for k in exact_frozen["passes"])
    assert {r["family"] for r in data["synthetic"]} == {"logistic_forget", "two_layer_net", "matrix_factorisation"}
    exact = rows["ofmu exact, β=0.1"]
    assert exact["forget_batches"] == T + 1 and exact["third"] == 1 and exact["bare_s"] is None
    assert exact["runtime"]["attn_implementation"] == "eager" and rows["grad_diff"]["runtime"]["attn_implementation"] == "sdpa"
    accuracy = {(r["precision"], r["scheme"]): r["errors"] for r in data["accuracy"]}
    assert accuracy[("fp32", "central")]["1e-05"] < 0.05  # central differences at the method's default fd_eps
    text = report.read_text()
    for needle in ("× GradDiff per epoch", "Targets (measured)", "| ofmu fd forward, β=0.1 |", "fd_eps = 1e-05",
                   "python -m llm.benchmark --size micro", "× GradDiff peak", "| ofmu fd forward, β=0.1, lag 2 |",
                   "Estimator error on synthetic families", "Recommended bench default" if "Recommended" in text
                   else "No OFMU variant with β > 0 met"):
        assert needle in text, needle
    assert str(tmp_path) not in text  # the header's command names no local file
    # rendering saved measurements with a quality file (rows made up here: this checks the rendering and the verdict)
    quality = tmp_path / "quality.json"
    made_up = [("exact", 0, 0.097, 0.860), ("exact", 1, 0.054, 0.870), ("fd forward, lag 2", 0, 0.097, 0.865),
               ("fd forward, lag 2", 1, 0.165, 0.869), ("fd forward, frozen", 0, 0.0068, 0.86),
               ("fd forward, frozen", 1, 0.054, 0.86)]
    quality.write_text(json.dumps({"seeds": [0, 1], "wall_s": 1.0, "rows": [
        {"label": lb, "seed": sd, "forget_quality": fq, "model_utility": mu, "wall_s": 1.0} for lb, sd, fq, mu in made_up]}))
    again = tmp_path / "again.md"
    assert main(["--from-json", str(raw), "--quality", str(quality), "--write-docs", str(again)]) == 0
    rendered = again.read_text()
    assert "--quality QUALITY_JSON --write-docs" in rendered and str(tmp_path) not in rendered
    assert "| fd forward, lag 2 | 0.097 / 0.865 | 0.17 / 0.869 | 1.0 | yes |" in rendered
    assert "| fd forward, frozen | 0.0068 / 0.860 | 0.054 / 0.860 | 1.0 | NO |" in rendered  # two FQ steps below
    # a measurement that failed is stored as 'nan' (standard JSON) and still renders; --quality is shown once
    from ofmu_theory.io import write_json

    data["reports"][0]["rows"][0]["step_s"] = float("nan")
    data["argv"] = [*data["argv"], "--quality", "QUALITY_JSON"]
    write_json(raw, data)
    assert '"step_s": "nan"' in raw.read_text()
    assert main(["--from-json", str(raw), "--quality", str(quality), "--write-docs", str(again)]) == 0
    assert again.read_text().count("--quality QUALITY_JSON") == 1


@pytest.mark.slow
def test_gpu_check_dry_run_on_cpu(tmp_path):
    """The prepared GPU script runs end to end on CPU (``--tiny``) and every measured step is finite."""
    from llm.gpu_check import main as gpu_check

    assert gpu_check(["--tiny", "--device", "cpu", "--steps", "1", "--warmup", "1", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "gpu_check.json").read_text())
    rows = [r for s in data["sections"].values() if isinstance(s, dict) for r in s.get("rows", [])]
    assert rows and all(r["finite"] for r in rows), [r["label"] for r in rows if not r["finite"]]
