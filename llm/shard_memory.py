"""``python -m llm.shard_memory``: peak memory per rank, replicated data parallel against FSDP2 sharding.

Two gloo ranks on CPU (``--world``) each run GradDiff and OFMU (``hvp="fd"``) for a few steps on an embedded
GPT-2 (by default d = 384, 6 blocks: the shapes of the ``medium`` embedded size), once with the whole model
on every rank (replicated: the core all-reduces gradients) and once sharded (``RunSettings(shard="fsdp")``).
For each run and rank it reports

* ``run_peak_mib``: the peak resident memory above the level before the run (:class:`llm.memory.PeakMemory`,
  RSS sampled every 20 ms), over the core's run alone (:func:`llm.runner.execute`): parameters being
  gathered, gradients, θ, Adam's moments, finite-difference points and activations;
* ``setup_peak_mib``: the same over the task's build (the working copy of the model, sharding it);
* ``state_mib``: the bytes of the solver state this rank holds at the end (θ and the transform's moments:
  the rank's shards when sharded).

The target model itself is loaded whole on every rank before the run, in both modes (the caller's copy), and
is not counted above. Timings are not measured here (llm.benchmark does that). Prints a Markdown table;
``--out FILE`` also writes the JSON record, ``--write-docs`` the page docs/llm-sharding.md.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import torch

METHODS_MEASURED = {"grad_diff": {}, "ofmu": {"hvp": "fd", "inner_steps": 1}}


def _state_bytes(obj: Any) -> int:
    """Bytes of every tensor in a solver state (a DTensor counts its local shard)."""
    if isinstance(obj, torch.Tensor):
        local = obj.to_local() if hasattr(obj, "to_local") else obj
        return local.numel() * local.element_size()
    if isinstance(obj, tuple):
        return sum(_state_bytes(v) for v in obj)
    return 0


def measure_rank(*, n_embd: int, n_layer: int, steps: int, seed: int = 0) -> list[dict[str, Any]]:
    """Every (mode, method) measurement of this rank (a process group must exist)."""
    from llm.data import generate_corpus  # noqa: PLC0415
    from llm.memory import PeakMemory  # noqa: PLC0415
    from llm.methods import METHODS  # noqa: PLC0415
    from llm.models import corpus_texts, train_tokenizer  # noqa: PLC0415
    from llm.models.embedded import EmbeddedLMConfig, build_model  # noqa: PLC0415
    from llm.prompts import PROMPTS  # noqa: PLC0415
    from llm.runner import execute  # noqa: PLC0415
    from llm.unlearn import RunSettings, build_task  # noqa: PLC0415
    from ofmu_theory.distributed import world  # noqa: PLC0415

    rank, size = world()
    corpus = generate_corpus(n_authors=10, questions_per_author=4, seed=3)
    forget, retain = list(corpus.split("forget10")), list(corpus.split("retain90"))
    tokenizer = train_tokenizer(corpus_texts(forget + retain), vocab_size=1024, model_max_length=128)
    arch = EmbeddedLMConfig(n_embd=n_embd, n_layer=n_layer, n_head=8, n_positions=128)
    model = build_model(tokenizer, size=arch, seed=seed)
    n_params = sum(p.numel() for p in model.parameters())
    rows = []
    for shard in (None, "fsdp"):
        for name, extra in METHODS_MEASURED.items():
            # one step = one forget row and 4 retain rows per rank; epochs chosen for ``steps`` steps
            method = METHODS.get(name).preset("embedded", batch_size=1, retain_batch_size=4,
                                              epochs=steps * size / len(forget), **extra)
            settings = RunSettings(max_length=128, shard=shard, seed=seed)
            with PeakMemory("cpu") as setup:
                task = build_task(method, model=model, tokenizer=tokenizer, template=PROMPTS.get("plain"),
                                  forget_items=forget, retain_items=retain, settings=settings)
                plan = method.plan(task)
            with PeakMemory("cpu") as run:
                result = execute(plan)
            rows.append({"mode": "fsdp" if shard else "replicated", "method": name, "rank": rank, "world_size": size,
                         "steps": int(result.nit), "parameters": n_params, "setup_peak_mib": setup.peak_mib,
                         "run_peak_mib": run.peak_mib, "state_mib": _state_bytes(result.state) / 2**20,
                         "memory_method": run.method})
            del task, plan, result
    return rows


def _worker(rank: int, size: int, port: int, args: argparse.Namespace, queue: Any) -> None:
    import torch.distributed as dist  # noqa: PLC0415

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=size)
    torch.set_num_threads(1)
    try:
        queue.put(measure_rank(n_embd=args.n_embd, n_layer=args.n_layer, steps=args.steps))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table: one line per mode and method, the largest value over the ranks."""
    lines = ["| mode | method | steps | run peak / rank (MiB) | setup peak / rank (MiB) | solver state / rank (MiB) |",
             "|---|---|---|---|---|---|"]
    keys = sorted({(r["mode"], r["method"]) for r in rows}, key=lambda k: (k[0] != "replicated", k[1]))
    for mode, method in keys:
        group = [r for r in rows if r["mode"] == mode and r["method"] == method]
        lines.append(f"| {mode} | {method} | {group[0]['steps']} | {max(r['run_peak_mib'] for r in group):.1f} | "
                     f"{max(r['setup_peak_mib'] for r in group):.1f} | {max(r['state_mib'] for r in group):.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import torch.multiprocessing as mp  # noqa: PLC0415

    from ofmu_theory.io import write_json  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m llm.shard_memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", type=int, default=2, help="gloo ranks (default 2)")
    parser.add_argument("--n-embd", type=int, default=384)
    parser.add_argument("--n-layer", type=int, default=6)
    parser.add_argument("--steps", type=int, default=2, help="outer steps per run (default 2)")
    parser.add_argument("--out", default=None, help="also write the JSON record here")
    parser.add_argument("--write-docs", action="store_true", help="also write docs/llm-sharding.md")
    parser.add_argument("--from", dest="source", default=None,
                        help="render a record written by --out instead of measuring (with --write-docs: the page)")
    args = parser.parse_args(argv)
    if args.source is not None:
        import json  # noqa: PLC0415

        with open(args.source, encoding="utf-8") as f:
            record = json.load(f)
        print(table(record["rows"]))
        if args.write_docs:
            _write_page(record["rows"], record["command"], record["wall_s"])
        return 0
    for name in ("world", "n_embd", "n_layer", "steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    import sys  # noqa: PLC0415
    import time  # noqa: PLC0415

    given = list(sys.argv[1:] if argv is None else argv)
    if "--out" in given:  # where the record went is not part of what was measured
        at = given.index("--out")
        del given[at:at + 2]
    command = " ".join(["python -m llm.shard_memory", *[a for a in given if not a.startswith("--out=")]])
    start = time.perf_counter()
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.spawn(_worker, args=(args.world, port, args, queue), nprocs=args.world, join=True)
    rows = [row for _ in range(args.world) for row in queue.get()]
    rows.sort(key=lambda r: (r["mode"], r["method"], r["rank"]))
    wall_s = time.perf_counter() - start
    print(f"{rows[0]['parameters'] / 1e6:.1f} M parameters, {args.world} gloo ranks on CPU, "
          f"{rows[0]['memory_method']}\n")
    print(table(rows))
    if args.out:
        write_json(args.out, {"command": command, "wall_s": wall_s, "rows": rows, "settings": vars(args)})
    if args.write_docs:
        _write_page(rows, command, wall_s)
    return 0


def _write_page(rows: list[dict[str, Any]], command: str, wall_s: float) -> None:
    from pathlib import Path  # noqa: PLC0415

    from ofmu_theory.io import write_text  # noqa: PLC0415

    write_text(Path(__file__).resolve().parent.parent / "docs" / "llm-sharding.md", page(rows, command, wall_s))


def ratios(rows: list[dict[str, Any]]) -> str:
    """Per method, sharded over replicated for each column (largest value over the ranks), as a sentence."""
    def peak(mode: str, method: str, key: str) -> float:
        return max(r[key] for r in rows if r["mode"] == mode and r["method"] == method)

    parts = []
    for method in sorted({r["method"] for r in rows}):
        if not {("replicated", method), ("fsdp", method)} <= {(r["mode"], r["method"]) for r in rows}:
            continue
        parts.append(f"{method}: solver state {peak('fsdp', method, 'state_mib') / peak('replicated', method, 'state_mib'):.2f}×, "
                     f"run peak {peak('fsdp', method, 'run_peak_mib') / peak('replicated', method, 'run_peak_mib'):.2f}×, "
                     f"setup peak {peak('fsdp', method, 'setup_peak_mib') / peak('replicated', method, 'setup_peak_mib'):.2f}×")
    return "Sharded over replicated, per rank — " + "; ".join(parts) + "."


def page(rows: list[dict[str, Any]], command: str, wall_s: float) -> str:
    """docs/llm-sharding.md: the table with what was measured and how."""
    first = rows[0]
    return (f"# Memory per rank: replicated against sharded (FSDP2)\n\n"
            f"Generated by `{command}` ({wall_s:.0f} s on this machine's CPUs; do not edit by hand). "
            f"An embedded GPT-2 of {first['parameters'] / 1e6:.1f} M parameters (float32), "
            f"{first['world_size']} gloo ranks on CPU, per-rank batch of 1 forget and 4 retain rows; "
            f"memory by {first['memory_method']} (llm/memory.py), the largest value over the ranks. "
            "*Run peak*: over the core's run alone; *setup peak*: over building the task (the working copy, "
            "sharding it); *solver state*: θ and Adam's moments held at the end. The target model each rank "
            "loads before the run is not counted (it is the same in both modes). What each column measures: "
            "the docstring of llm/shard_memory.py.\n\n" + table(rows) + "\n\n" + ratios(rows) + "\n\n"
            "The solver state (θ and Adam's moments, the one part of a run whose size is the model's alone) divides "
            "by the world size. The run's peak resident set does not follow it: it also holds the working copy's "
            "gathered blocks, the gradients, the finite-difference points, gloo's buffers and memory the C "
            "allocator keeps after freeing it, and is sampled every 20 ms; on a GPU the CUDA allocator's peak "
            "(`python -m llm.gpu_check --sharded`) is the figure that tells what fits on a device.\n")


if __name__ == "__main__":
    raise SystemExit(main())
