"""``ofmu vision prepare | unlearn | bench`` end to end on digits with a tiny budget."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tests.vision.fast import FAST_FLAGS
from vision import cli

TINY = ["--dataset", "digits", "--n-train", "0", "--n-test", "0", "--width", "8", "--epochs", "4", "--lr", "0.05",
        "--batch-size", "64", "--quiet"]


def test_register_adds_the_vision_commands() -> None:
    parser = argparse.ArgumentParser(prog="ofmu")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["vision", "bench", "--out", "x"])
    assert args.vision_command == "bench" and args.func is cli._bench


def test_prepare_unlearn_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("OFMU_CACHE", str(tmp_path / "cache"))
    assert cli.main(["vision", "prepare", *TINY]) == 0
    entries = list((tmp_path / "cache" / "vision").iterdir())
    assert len(entries) == 3  # Original + Retrain (random) + Retrain (class)
    assert all((e / "model.pt").is_file() and (e / "meta.json").is_file() for e in entries)
    assert "Retrain (class)" in capsys.readouterr().out

    out = tmp_path / "ft"  # the layout of `ofmu llm unlearn --out`: model/ (safetensors) and result.json
    assert cli.main(["vision", "unlearn", "--method", "ft", "--mode", "class", "--out", str(out), *TINY,
                     "--set", "ft.epochs=0.5", "--set", "lr=0.01"]) == 0
    record = json.loads((out / "result.json").read_text())
    row = record["row"]
    assert row["method"] == "ft" and row["mode"] == "class" and row["status"] == "OK"
    assert record["config"]["epochs"] == 0.5 and record["config"]["lr"] == 0.01  # key=value and method.key=value
    assert record["metrics"] == row["metrics"] and record["metadata"]["seed"] == record["metadata"]["config"]["seed"]
    assert sorted(p.name for p in out.iterdir()) == ["model", "result.json"]
    from vision.storage import load_safetensors_model

    model = load_safetensors_model(out / "model" / "model.safetensors")
    safetensors = pytest.importorskip("safetensors.torch")  # the file is standard safetensors
    state = safetensors.load_file(str(out / "model" / "model.safetensors"))
    assert state.keys() == model.state_dict().keys()
    assert all((state[k] == v).all() for k, v in model.state_dict().items())
    assert "Avg. Gap" in capsys.readouterr().out
    assert len(list((tmp_path / "cache" / "vision").iterdir())) == 3  # reused the cache

    bench = tmp_path / "bench"
    assert cli.main(["vision", "bench", "--profile", "single", "--out", str(bench), *TINY, *FAST_FLAGS]) == 0
    assert sorted(p.name for p in bench.iterdir()) == ["bench.json", "bench.md", "bench.png"]
    record = json.loads((bench / "bench.json").read_text())
    assert [m["mode"] for m in record["modes"]] == ["random", "class"]
    assert len(record["modes"][0]["rows"]) == 11  # original, retrain and nine methods


def test_bad_arguments_exit_with_code_2(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["vision", "bench", "--profile", "single", *TINY, "--set", "ofmu-rho=2", "--no-cache"]) == 2
    assert "no method of this run" in capsys.readouterr().err
    assert cli.main(["vision", "unlearn", "--method", "ft", *TINY, "--forget-fraction", "1.5", "--no-cache"]) == 2
    assert "forget_fraction must be in (0, 1)" in capsys.readouterr().err
