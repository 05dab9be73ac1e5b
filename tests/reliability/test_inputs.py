"""Bad input is one line naming the argument, file or key, with the documented exit status, and leaves
nothing behind: corrupt weights, pickle-only folders, NaN weights, malformed or non-UTF-8 data, bad --set
values, an uncached hub model offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from llm.cli import main
from ofmu_cli.main import main as ofmu_main
from tests.llm.test_cli import MICRO
from tests.reliability.conftest import one_error_line, tree, unlearn_args
from vision import cli as vision_cli


def _model_copy(entry: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(entry / "target", folder)
    return folder


def _eval(model: Path, out: Path, entry: Path) -> list[str]:
    return ["llm", "eval", "--model-dir", str(model), "--out", str(out), *MICRO, "--cache-dir", str(entry)]


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], "is not a readable safetensors file"),  # truncated
    (lambda b: b"", "is empty"),
    (lambda b: b"\x00" * 8 + b[8:], "is not a readable safetensors file"),  # corrupt header
])
def test_damaged_safetensors_is_one_line_naming_the_file(entry: Path, tmp_path: Path, capsys, damage, message) -> None:
    model = _model_copy(entry, tmp_path)
    weights = model / "model.safetensors"
    weights.write_bytes(damage(weights.read_bytes()))
    out = tmp_path / "eval"
    assert main(_eval(model, out, entry)) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{weights} {message}" in line
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_pickle_only_folder_is_refused_saying_why(entry: Path, tmp_path: Path, capsys) -> None:
    model = _model_copy(entry, tmp_path)
    torch.save(load_file(str(model / "model.safetensors")), model / "pytorch_model.bin")
    (model / "model.safetensors").unlink()
    assert main(_eval(model, tmp_path / "eval", entry)) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "holds only pickle weights (pytorch_model.bin)" in line and "loading a pickle can run code" in line
    assert not (tmp_path / "eval").exists()


def test_nan_weights_in_eval_exit_2_and_leave_no_result_files(entry: Path, tmp_path: Path, capsys) -> None:
    model = _model_copy(entry, tmp_path)
    state = load_file(str(model / "model.safetensors"))
    name = sorted(state)[0]
    state[name] = torch.full_like(state[name], float("nan"))
    save_file(state, str(model / "model.safetensors"))
    out = tmp_path / "eval"
    assert main(_eval(model, out, entry)) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "has non-finite weights" in line
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no TOFU_*.json


@pytest.fixture()
def split_folder(tmp_path: Path) -> Path:
    from llm.data import generate_corpus, write_corpus

    folder = tmp_path / "tofu"
    write_corpus(generate_corpus(n_authors=10, questions_per_author=2, seed=0), folder)
    return folder


@pytest.mark.parametrize("damage, message", [
    (lambda text: text.encode("utf-8").replace(b"a", b"\xe9", 1), "not UTF-8 text (byte "),
    (lambda text: json.dumps(json.loads(text)[0]).encode(), "holds one JSON object, not a list of records"),
    (lambda text: json.dumps(json.loads(text)[0], indent=2).encode(), "holds one JSON object, not a list of records"),
    (lambda text: text[:-5].encode(), "invalid JSON"),
])
def test_malformed_dataset_files_are_named_and_prepare_leaves_no_cache_folder(
        split_folder: Path, tmp_path: Path, capsys, damage, message) -> None:
    path = split_folder / "forget10.json"
    path.write_bytes(damage(path.read_text(encoding="utf-8")))
    cache = tmp_path / "cache" / "entry"
    assert main(["llm", "prepare", *MICRO, "--data", str(split_folder), "--cache-dir", str(cache)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{path}: {message}" in line
    assert not (tmp_path / "cache").exists()  # the failed prepare removed the folders it created


def test_an_uncached_hub_model_offline_fails_at_once(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    cache = tmp_path / "entry"
    assert main(["llm", "prepare", "--model", "nope/x", "--quiet", "--cache-dir", str(cache)]) == 3
    line = one_error_line(capsys.readouterr().err)
    assert "model 'nope/x' is not in the local Hugging Face cache" in line and "HF_HUB_OFFLINE" in line
    assert not cache.exists()


def test_a_missing_model_folder_is_named(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "no-such-model"
    assert main(["llm", "prepare", "--model", str(missing), "--quiet", "--cache-dir", str(tmp_path / "e")]) == 2
    assert f"model folder '{missing}' does not exist" in one_error_line(capsys.readouterr().err)
    assert tree(tmp_path) == []


@pytest.mark.parametrize("setting, message", [
    ("fd_eps=abc", "--set fd_eps='abc': expected a number (float) or none"),
    ("beta=abc", "--set beta='abc': expected a number (float)"),
    ("eta_out=-1", "--set eta_out=-1: eta must be a finite number > 0"),
    ("inner_steps=2.5", "--set inner_steps=2.5: expected a number (int)"),
    ("betta=1", "--set: unknown option(s) ['betta'] for solver 'ofmu'; valid: beta, "),
    ("transform_in=rmsprop", "--set transform_in='rmsprop': must be one of ['adam', 'sgd']"),
])
def test_bad_solve_settings_exit_2_before_anything_is_written(tmp_path: Path, capsys, setting, message) -> None:
    out = tmp_path / "r.json"
    assert ofmu_main(["solve", "--steps", "2", "--quiet", "--set", setting, "--json", str(out)]) == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert tree(tmp_path) == []


@pytest.mark.parametrize("setting, message", [
    ("beta=abc", "--set beta='abc': expected a number (float)"),
    ("epochs=two", "--set epochs='two': expected a number (float)"),
    ("betta=1", "unknown option(s) ['betta'] for method 'ofmu'; valid: "),
])
def test_bad_method_settings_exit_2_before_any_work(tmp_path: Path, capsys, setting, message) -> None:
    cache = tmp_path / "cache-not-built"
    assert main([*unlearn_args(tmp_path / "out", cache)[:-2], "--cache-dir", str(cache), "--set", setting]) == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert tree(tmp_path) == []


def test_bad_vision_settings_exit_2_at_parse_time(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench"
    assert vision_cli.main(["vision", "bench", "--out", str(out), "--dataset", "digits", "--quiet",
                            "--set", "ofmu.rho=abc"]) == 2
    assert "--set ofmu.rho='abc': expected a number (float)" in one_error_line(capsys.readouterr().err)
    assert vision_cli.main(["vision", "unlearn", "--method", "ofmu", "--dataset", "digits", "--quiet",
                            "--set", "ofmu.rhoo=2"]) == 2
    assert "unknown option 'ofmu.rhoo'" in one_error_line(capsys.readouterr().err)
    assert tree(tmp_path) == []
