"""A checkpoint is data: a crafted state.json that names any callable is refused and nothing runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from llm.checkpoint import FORMAT, CheckpointError, load_checkpoint, save_checkpoint
from llm.cli import main
from ofmu_theory.result import Trace
from ofmu_theory.solvers.ofmu import OFMUState
from ofmu_theory.states import STATES
from ofmu_theory.transforms import AdamState
from tests.reliability.conftest import one_error_line, unlearn_args

CALLABLES = ["ofmu_theory.io:os.system", "os:system", "builtins:eval", "subprocess:Popen",
             "ofmu_theory.solvers.ofmu:OFMUState"]  # the last: a real state class, but named by import path


def _checkpoint(folder: Path, meta: dict | None = None) -> Path:
    theta = (torch.ones(2),)
    state = OFMUState(theta=theta, k=3, draws=6, inner_state=AdamState(1, theta, theta), outer_state=None)
    save_checkpoint(folder, state=state, trace=Trace({"k": np.arange(3.0)}), counts={"n_grad": 3.0},
                    meta=meta or {"method": {"beta": 0.1}})
    return folder / "step-000003" / "state.json"


def _craft(state_json: Path, marker: Path, name: str, *, key: str = "state") -> None:
    info = json.loads(state_json.read_text())
    info["structure"] = {key: name, "fields": {"command": {"value": f"touch {marker}"}}}
    state_json.write_text(json.dumps(info))


def test_every_state_type_is_registered_and_round_trips(tmp_path: Path) -> None:
    import ofmu_theory.solvers  # noqa: F401

    assert STATES.names() == ["adam_state", "alternating_state", "descent_state", "ofmu_state", "value_penalty_state"]
    _checkpoint(tmp_path)
    loaded = load_checkpoint(tmp_path, expect_meta={"method": {"beta": 0.1}})
    assert isinstance(loaded.state, OFMUState) and isinstance(loaded.state.inner_state, AdamState)
    assert loaded.state.k == 3 and torch.equal(loaded.state.theta[0], torch.ones(2))


@pytest.mark.parametrize("name", CALLABLES)
@pytest.mark.parametrize("key", ["state", "namedtuple"])
def test_a_crafted_structure_is_refused_and_runs_nothing(tmp_path: Path, name: str, key: str) -> None:
    marker = tmp_path / "marker"
    _craft(_checkpoint(tmp_path / "ck"), marker, name, key=key)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(tmp_path / "ck")
    message = str(caught.value)
    assert "\n" not in message and ("unknown state type" in message or "malformed state entry" in message)
    assert not marker.exists()


def test_the_settings_are_checked_before_any_state_is_rebuilt(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    _craft(_checkpoint(tmp_path / "ck"), marker, "ofmu_theory.io:os.system")
    with pytest.raises(CheckpointError, match=r"other settings \(method.beta: checkpoint 0.1, now 0.2\)"):
        load_checkpoint(tmp_path / "ck", expect_meta={"method": {"beta": 0.2}})
    assert not marker.exists()


def test_an_old_format_is_refused_with_a_hint(tmp_path: Path) -> None:
    _checkpoint(tmp_path)
    for name in ("latest.json", "step-000003/state.json"):
        shutil.copy(tmp_path / name, tmp_path / f"{name}.bak")
        info = json.loads((tmp_path / name).read_text())
        (tmp_path / name).write_text(json.dumps({**info, "format": "ofmu-llm-checkpoint/1"}))
        with pytest.raises(CheckpointError, match=f"format 'ofmu-llm-checkpoint/1' is not '{FORMAT}'.*without --resume"):
            load_checkpoint(tmp_path)
        shutil.copy(tmp_path / f"{name}.bak", tmp_path / name)


def test_resume_from_a_crafted_checkpoint_exits_2_and_runs_nothing(entry: Path, tmp_path: Path, capsys) -> None:
    first = tmp_path / "first"
    assert main(unlearn_args(first, entry, "--checkpoint-every", "1", "--keep-checkpoint")) == 0
    checkpoint = tmp_path / "first.checkpoint"
    marker = tmp_path / "marker"
    latest = json.loads((checkpoint / "latest.json").read_text())["folder"]
    _craft(checkpoint / latest / "state.json", marker, "ofmu_theory.io:os.system")
    capsys.readouterr()
    out = tmp_path / "second"
    code = main(unlearn_args(out, entry, "--checkpoint-every", "1", "--checkpoint-dir", str(checkpoint), "--resume"))
    line = one_error_line(capsys.readouterr().err)
    assert code == 2 and "unknown state type 'ofmu_theory.io:os.system'" in line
    assert not marker.exists() and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first", "first.checkpoint"]
