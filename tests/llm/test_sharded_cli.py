"""``--shard fsdp`` through the command line under torchrun (2 gloo ranks), end to end on a micro model.

The sharded run's checkpoint resumes in one process without torch.distributed (per-rank batch × 2), and its
final model folder loads with ``from_pretrained`` alone (~20 s: one torchrun launch of two ranks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from llm.cli import main
from tests.llm.test_cli import MICRO


def test_torchrun_sharded_unlearn_then_resume_in_one_process_and_load(tmp_path: Path) -> None:
    entry = tmp_path / "entry"
    assert main(["llm", "prepare", *MICRO, "--cache-dir", str(entry)]) == 0
    # per rank: batch_size=1, retain_batch_size=32 (the preset's); one process resumes with the effective sizes
    common = ["--method", "grad_diff", "--set", "epochs=4", *MICRO, "--cache-dir", str(entry)]
    sharded = tmp_path / "sharded"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "-m", "llm.cli", "llm", "unlearn",
               *common, "--set", "batch_size=1", "--shard", "fsdp", "--checkpoint-every", "2", "--keep-checkpoint",
               "--out", str(sharded)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((sharded / "result.json").read_text())
    assert record["status"] == "MAX_STEPS" and record["nit"] == 4 and record["world_size"] == 2
    assert record["effective_batch_size"] == 2 and (tmp_path / "sharded.checkpoint" / "latest.json").is_file()

    from transformers import AutoModelForCausalLM  # noqa: PLC0415

    model = AutoModelForCausalLM.from_pretrained(sharded / "model")  # no process group in this process
    weights = load_file(sharded / "model" / "model.safetensors")
    name = next(iter(weights))
    assert torch.equal(model.state_dict()[name], weights[name])

    resumed = tmp_path / "resumed"
    (tmp_path / "sharded.checkpoint").rename(tmp_path / "resumed.checkpoint")
    assert main(["llm", "unlearn", *common, "--set", "batch_size=2", "--set", "retain_batch_size=64",
                 "--checkpoint-every", "2", "--resume", "--out", str(resumed)]) == 0
    a, b = load_file(sharded / "model" / "model.safetensors"), load_file(resumed / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:  # the same maths in another summation order (float32)
        assert torch.allclose(a[key], b[key], rtol=0, atol=1e-5 * max(1.0, a[key].abs().max().item())), key
