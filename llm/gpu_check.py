"""``python -m llm.gpu_check``: one short GPU check of the LLM methods' runtime options (a few minutes).

On a randomly initialised Llama built from a config with SmolLM2-135M's shapes (30 layers, hidden 576,
9 heads / 3 KV heads, vocabulary 49,152: ~135 M parameters; nothing is downloaded) and the generated
corpus, it times GradDiff and OFMU steps through :func:`llm.perf.measure_step` — the code path of
``ofmu llm unlearn`` (build_task, bf16 autocast with float32 master parameters, the core solver):

1. bf16 + sdpa: GradDiff, OFMU fd central / forward with β = 0.1 and β = 0 (T = 1);
2. the same fd step with only fused SDPA kernels allowed (flash / memory-efficient; no math fallback),
   and with ``flash_attention_2`` when that package is installed;
3. gradient checkpointing (GradDiff, OFMU fd forward), and fp32 without autocast for comparison;
4. OFMU exact (β = 0.1 and β = 0, and with frozen curvature) on a 6-layer version, which switches to eager
   attention, next to GradDiff and OFMU fd on the same model, plus what a double backward through sdpa does
   there (forward-mode ``fwd_rev`` is left out: PyTorch has no forward-AD rule for ``silu_backward``);
5. the cheaper estimators of the similarity term (frozen curvature, random pick, lag; docs/llm-performance.md)
   in bf16 next to GradDiff: × GradDiff per epoch, × its peak memory, error against the exact estimator;
6. the single-GPU facts that make data parallelism unnecessary for this size (one device, world size 1,
   peak memory against the card's), and a one-rank NCCL all-reduce (the backend torchrun runs would use).

Every loss is checked finite. ``--tiny`` runs the same script on a 2-layer model (CPU dry run).
``torchrun --nproc_per_node=2 -m llm.gpu_check --sharded`` runs the prepared two-GPU sharded (FSDP2)
SmolLM2-135M check instead (:mod:`llm.gpu_check_sharded`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from typing import Any

import torch


def _print(*parts: Any) -> None:
    print(*parts, flush=True)


def _env() -> dict[str, Any]:
    import transformers  # noqa: PLC0415

    from ofmu_theory.distributed import world  # noqa: PLC0415

    info: dict[str, Any] = {"torch": torch.__version__, "transformers": transformers.__version__,
                            "python": sys.version.split()[0], "cuda": torch.cuda.is_available(),
                            "device_count": torch.cuda.device_count(), "world": world()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(name=props.name, capability=f"{props.major}.{props.minor}",
                    memory_gib=round(props.total_memory / 2**30, 1), bf16=torch.cuda.is_bf16_supported(),
                    sdpa_flash=torch.backends.cuda.flash_sdp_enabled(),
                    sdpa_mem_efficient=torch.backends.cuda.mem_efficient_sdp_enabled())
    try:
        from transformers.utils import is_flash_attn_2_available  # noqa: PLC0415

        info["flash_attention_2"] = bool(is_flash_attn_2_available())
    except ImportError:
        info["flash_attention_2"] = False
    return info


def _nccl_probe() -> str:
    import torch.distributed as dist  # noqa: PLC0415

    if not (torch.cuda.is_available() and dist.is_available() and dist.is_nccl_available()):
        return "nccl unavailable"
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29517")
    dist.init_process_group("nccl", rank=0, world_size=1, device_id=torch.device("cuda:0"))
    try:
        x = torch.ones(4, device="cuda")
        dist.all_reduce(x)
        return f"nccl all_reduce on 1 rank ok (sum {float(x.sum()):g})"
    finally:
        dist.destroy_process_group()


def _llama(tokenizer: Any, *, layers: int, tiny: bool) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM  # noqa: PLC0415

    shapes = dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
                  vocab_size=1024) if tiny else dict(hidden_size=576, intermediate_size=1536, num_attention_heads=9,
                                                     num_key_value_heads=3, vocab_size=49152)
    config = LlamaConfig(num_hidden_layers=layers, max_position_embeddings=2048, rms_norm_eps=1e-5,
                         tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                         attn_implementation="sdpa", **shapes)
    torch.manual_seed(0)
    return LlamaForCausalLM(config).eval()


def main(argv: list[str] | None = None) -> int:
    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415

    keep_freed_memory()
    parser = argparse.ArgumentParser(prog="python -m llm.gpu_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model (a dry run, e.g. on CPU)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", default=os.environ.get("OUT"), help="folder for gpu_check.json (default $OUT)")
    parser.add_argument("--sharded", action="store_true",
                        help="under torchrun on 2 GPUs: SmolLM2-135M sharded with FSDP2 (llm.gpu_check_sharded)")
    parser.add_argument("--random", action="store_true", help="--sharded: a random model of SmolLM2's shapes")
    args = parser.parse_args(argv)
    if args.sharded:
        from llm.gpu_check_sharded import main as sharded_main  # noqa: PLC0415

        return sharded_main(args)
    start = time.perf_counter()

    from llm.benchmark import run_subject, table  # noqa: PLC0415
    from llm.benchmark_subjects import Subject  # noqa: PLC0415
    from llm.benchmark_variants import estimator_variants, ofmu_variants  # noqa: PLC0415
    from llm.data import generate_corpus  # noqa: PLC0415
    from llm.models import corpus_texts, train_tokenizer  # noqa: PLC0415
    from llm.prompts import PROMPTS  # noqa: PLC0415

    env = _env()
    _print("environment:", json.dumps(env))
    results: dict[str, Any] = {"environment": env, "sections": {}}

    corpus = generate_corpus(n_authors=40, questions_per_author=10, seed=0)
    items = [it for name in ("full", "holdout10") for it in corpus.split(name)]
    tokenizer = train_tokenizer(corpus_texts(items), vocab_size=1024, model_max_length=256)
    forget, retain = list(corpus.split("forget10")), list(corpus.split("retain90"))
    big_layers, small_layers = (2, 2) if args.tiny else (30, 6)

    def subject(model: Any, label: str) -> Subject:
        n = sum(p.numel() for p in model.parameters())
        return Subject(name=label, description=f"{label}: random Llama, {model.config.num_hidden_layers} layers, "
                       f"{n / 1e6:.1f} M parameters, full fine-tuning", model=model, tokenizer=tokenizer,
                       template=PROMPTS.get("plain"), forget=forget, retain=retain, preset="embedded",
                       batch=args.batch_size, steps=args.steps, warmup=args.warmup, threads=None)

    def section(name: str, subj: Subject, *, methods: list[str], variants: list[tuple[str, dict[str, Any]]],
                **kwargs: Any) -> None:
        t0 = time.perf_counter()
        try:
            report = run_subject(subj, inner_steps=1, methods=methods, variants=variants, device=args.device,
                                 progress=False, **kwargs)
        except Exception:  # noqa: BLE001 - report the section's failure and go on with the next
            _print(f"\n### {name}: FAILED\n{traceback.format_exc()}")
            results["sections"][name] = {"error": traceback.format_exc()}
            return
        results["sections"][name] = report
        _print(f"\n### {name} ({time.perf_counter() - t0:.0f} s)\n")
        _print(table(report))
        for r in report["rows"]:
            if not r["finite"]:
                _print(f"NOT FINITE / FAILED: {r['label']} {r['status']} {r['error'] or ''}")
        peak = max((r["peak_mib"] for r in report["rows"] if r["peak_mib"] == r["peak_mib"]), default=float("nan"))
        _print(f"all losses finite: {all(r['finite'] for r in report['rows'])}; largest peak above the model "
               f"copies: {peak / 1024:.2f} GiB")
        for r in report["rows"]:
            rt = r.get("runtime") or {}
            _print(f"  {r['label']}: attention {rt.get('attn_implementation')}, {rt.get('precision')}, "
                   f"checkpointing {rt.get('gradient_checkpointing')}; absolute CUDA peak "
                   f"{r.get('peak_total_mib', float('nan')) / 1024:.2f} GiB; step ms "
                   f"{[round(1e3 * t, 1) for t in r['step_all_s']]}")

    big = _llama(tokenizer, layers=big_layers, tiny=args.tiny)
    subj = subject(big, "smollm2-shaped")
    fd = [(label, extra) for label, extra in ofmu_variants() if extra["hvp"] == "fd"]
    fwd = [(label, extra) for label, extra in fd if extra["fd_scheme"] == "forward" and extra["beta"] > 0]
    section("1. bf16 autocast + sdpa", subj, methods=["grad_diff"], variants=fd, bf16=True)
    from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: PLC0415

    with sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]):
        section("2a. bf16, fused SDPA kernels only (flash / mem-efficient, no math fallback)", subj,
                methods=["grad_diff"], variants=fwd, bf16=True)
    if env.get("flash_attention_2"):
        big.set_attn_implementation("flash_attention_2")
        section("2b. bf16 + flash_attention_2", subj, methods=["grad_diff"], variants=fwd, bf16=True)
        big.set_attn_implementation("sdpa")
    section("3a. bf16 + gradient checkpointing", subj, methods=["grad_diff"], variants=fwd, bf16=True,
            gradient_checkpointing=True)
    section("3b. fp32 (no autocast)", subj, methods=["grad_diff"], variants=fwd, bf16=False)
    cheaper = [(label, extra) for label, extra in estimator_variants() if extra["hvp"] == "fd"]
    section("5. cheaper similarity estimators (fd forward), bf16 + sdpa", subj, methods=["grad_diff"],
            variants=fwd + cheaper, bf16=True)
    del big, subj

    small = _llama(tokenizer, layers=small_layers, tiny=args.tiny)
    subj = subject(small, "6-layer")
    # exact, and exact with frozen curvature (no graph of ∇Φ kept); not fwd_rev: forward-mode AD has no rule for
    # aten::silu_backward (Llama's MLP), measured by this script's CPU dry run
    exact = [(label, extra) for label, extra in ofmu_variants() + estimator_variants() if extra["hvp"] == "exact"]
    section("4. OFMU exact (eager attention) on the 6-layer model, bf16", subj, methods=["grad_diff"],
            variants=exact + fd[:1] + fwd, bf16=True)
    results["sdpa_double_backward"] = _sdpa_double_backward(small, args.device)
    _print("double backward through sdpa:", results["sdpa_double_backward"])
    try:
        results["nccl"] = _nccl_probe()
    except Exception as err:  # noqa: BLE001 - a probe: report and go on
        results["nccl"] = f"nccl probe failed: {type(err).__name__}: {err}"
    _print(results["nccl"])
    results["wall_s"] = time.perf_counter() - start
    _print(f"\nsingle GPU: device_count={env['device_count']}, world={env['world']} (no process group: the "
           f"objectives' reduce is None); total {results['wall_s']:.0f} s")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "gpu_check.json"), "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1, default=str)
    return 0


def _sdpa_double_backward(model: Any, device: str) -> str:
    """What an exact HVP through the sdpa model does (the reason the exact path switches to eager)."""
    import copy  # noqa: PLC0415

    work = copy.deepcopy(model).to(device)
    work.set_attn_implementation("sdpa")
    ids = torch.randint(0, 100, (2, 16), device=device)
    params = [p for p in work.parameters() if p.requires_grad][:4]
    try:
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
            loss = work(input_ids=ids, labels=ids, use_cache=False).loss
        grads = torch.autograd.grad(loss, params, create_graph=True)
        torch.autograd.grad(sum((g * g).sum() for g in grads), params)
        return "ran (this torch build differentiates sdpa twice)"
    except RuntimeError as err:
        return f"RuntimeError: {str(err).splitlines()[0][:200]}"
    finally:
        del work


if __name__ == "__main__":
    raise SystemExit(main())
