"""``prepare``: the data, the target model (fine-tuned on forget + retain) and the retain model (retain only),
cached with a completeness marker, plus the retain model's evaluation (the forget-quality reference).

Cache folder: ``$OFMU_CACHE/llm/<key>`` (default ``~/.cache/ofmu/llm/<key>``), ``key`` a hash of the
resolved :class:`PrepareConfig` and of the data's content. Each stage is a folder renamed into place
when finished, so an interrupted ``prepare`` resumes at the first missing stage; ``prepare.json`` is
written last and marks the entry complete::

    data/          every split as TOFU JSON (+ corpus_info.json for a generated corpus)
    tokenizer/     the embedded model's BPE tokenizer (embedded only)
    target/        the target ("finetuned") model, safetensors
    retain/        the retain model, safetensors
    base_eval/     a pretrained model only: the model before fine-tuning on the real-author and world-fact
                   questions (:data:`KNOWLEDGE_METRICS`: what it knew before; every later model is compared to it)
    retain_eval/   TOFU_EVAL.json / TOFU_SUMMARY.json / TOFU_RUN.json of the retain model
    target_eval/   the same for the target model (with forget quality and privleak against retain_eval)
    prepare.json   the resolved config, timings, run metadata (the completeness marker)

Models: ``"embedded"`` (a GPT-2 of :data:`llm.models.EMBEDDED_SIZES`, trained from scratch; since it
has no pre-training, the real-author and world-fact QA pairs are added to both training sets — the
"world knowledge" a pre-trained model brings — unless ``world_knowledge=False``), ``"smollm2"``
(SmolLM2-135M-Instruct offline, :func:`llm.models.load_smollm2`), or any hub id / local folder
(:func:`llm.models.load_pretrained`: safetensors only, ``trust_remote_code`` off unless asked).
Data: ``"generated"`` (:func:`llm.data.generate_corpus`), a local folder of TOFU JSON / JSONL files or one
JSON file of named splits (:mod:`llm.data.local`: any split names), or ``"hub"`` (``locuslab/TOFU`` through ``datasets``, network needed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from llm.data.generator import GENERATOR_VERSION, generate_corpus, write_corpus
from llm.data.loaders import load_folder, load_tofu_hub
from llm.data.local import fingerprint, local_splits
from llm.data.schema import ALL_FIELDS, QAItem, check_disjoint
from llm.entry import (
    EvalSettings,
    Prepared,
    PrepareConfig,
    eval_config,
    eval_data,
    evaluate_model,
    split_names,
)
from llm.evaluate import evaluate_tofu, read_eval_log
from llm.models.embedded import EMBEDDED_SIZES, build_model, corpus_texts, train_tokenizer
from llm.models.hub import check_source, load_pretrained
from llm.models.storage import save_pretrained
from llm.prompts import PROMPTS
from llm.train import finetune
from ofmu_theory.io import check_writable, temp_dir, write_json
from ofmu_theory.runinfo import run_metadata

__all__ = [
    "EvalSettings", "PrepareConfig", "Prepared", "cache_key", "cache_root", "eval_config", "eval_data",
    "evaluate_model", "load_prepared", "prepare", "split_names",
]

logger = logging.getLogger(__name__)
#: What ``base_eval/`` measures of a pretrained model before fine-tuning: its real-world knowledge.
KNOWLEDGE_METRICS: tuple[str, ...] = ("ra_MC_accuracy", "wf_MC_accuracy", "ra_Q_A_ROUGE", "wf_Q_A_ROUGE")
CACHE_ENV = "OFMU_CACHE"
MARKER = "prepare.json"
FORMAT = "ofmu-llm-prepared/1"


def cache_root() -> Path:
    """``$OFMU_CACHE/llm``, else ``~/.cache/ofmu/llm``."""
    base = os.environ.get(CACHE_ENV) or str(Path.home() / ".cache" / "ofmu")
    return Path(base) / "llm"


#: How a record writes the cache folder (``$OFMU_CACHE``, or its default), so no record carries a machine's paths.
CACHE_TOKEN = "$OFMU_CACHE"


def portable_path(value: str) -> str:
    """``value`` with the cache folder (the parent of :func:`cache_root`) written as :data:`CACHE_TOKEN`; any
    other value (``generated``, a hub id, a folder outside the cache) unchanged."""
    try:
        inside = Path(value).resolve().relative_to(cache_root().parent.resolve())
    except ValueError:
        return value
    return f"{CACHE_TOKEN}/{inside.as_posix()}"


def local_path(value: str) -> str:
    """The inverse of :func:`portable_path` on this machine's cache folder."""
    prefix = f"{CACHE_TOKEN}/"
    return str(cache_root().parent / value[len(prefix):]) if value.startswith(prefix) else value


# --- data ---------------------------------------------------------------------------------------------


def _fingerprint(config: PrepareConfig) -> dict[str, Any]:
    if config.data == "generated":
        return {"generator_version": GENERATOR_VERSION}
    if config.data == "hub":
        return {"hub_revision": config.revision}
    source = Path(config.data)
    if not source.exists():
        raise ValueError(f"--data must be 'generated', 'hub', a TOFU JSON file or a folder of TOFU split files, "
                         f"got {config.data!r}")
    return {"folder_sha256" if source.is_dir() else "file_sha256": fingerprint(source)}


def cache_key(config: PrepareConfig) -> str:
    """16 hex digits of the SHA-256 of the resolved config and the data's fingerprint."""
    resolved = config.resolved()
    payload = {"format": FORMAT, "config": resolved.to_dict(), "data": _fingerprint(resolved)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _load_splits(config: PrepareConfig) -> dict[str, list[QAItem]]:
    names = split_names(config)
    if config.data == "generated":
        corpus = generate_corpus(n_authors=config.n_authors, questions_per_author=config.questions_per_author,
                                 seed=config.seed, question_templates=config.question_templates)
        return {n: list(corpus.split(n)) for n in names}
    if config.data == "hub":
        return {n: load_tofu_hub(n, revision=config.revision) for n in names}
    splits, notices = local_splits(config.data, forget=config.forget_split, retain=config.retain_split,
                                   holdout=config.holdout_split)
    for notice in notices:
        logger.warning("data: %s", notice)
    return splits


def _write_data(config: PrepareConfig, folder: Path) -> None:
    splits = _load_splits(config)
    check_disjoint(splits[config.forget_split], splits[config.retain_split],
                   names=(config.forget_split, config.retain_split))
    if config.data == "generated":
        corpus = generate_corpus(n_authors=config.n_authors, questions_per_author=config.questions_per_author,
                                 seed=config.seed, question_templates=config.question_templates)
        write_corpus(corpus, folder)
        return
    for name, items in splits.items():
        write_json(folder / f"{name}.json", [item.to_record(ALL_FIELDS) for item in items])


def check_entry(folder: Path, config: PrepareConfig) -> None:
    """An existing entry in ``folder`` must have been prepared with ``config``: a mismatch names the keys.

    Raises:
        ValueError: the entry's recorded config differs from ``config``'s (the keys that differ listed).
    """
    info = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    recorded = info.get("metadata", {}).get("config")
    if recorded is None:
        return
    wanted = json.loads(json.dumps(config.resolved().to_dict(), default=str))
    # template: resolved from the tokenizer when the entry was built; trust_remote_code: a permission for
    # loading, not an option of what was built
    ignore = {"template", "trust_remote_code"}
    keys = sorted(k for k in set(wanted) | set(recorded) if k not in ignore and wanted.get(k) != recorded.get(k))
    if keys:
        diffs = ", ".join(f"{k}: entry {recorded.get(k)!r} vs now {wanted.get(k)!r}" for k in keys)
        raise ValueError(f"--cache-dir {str(folder)!r} holds an entry prepared with other options ({diffs}); "
                         "use the same options, another --cache-dir, or none (the default folder is keyed by them)")


# --- stages ---------------------------------------------------------------------------------------------


def _stage(folder: Path, name: str, build: Any) -> Path:
    """Build ``folder/name`` with ``build(tmp_dir)`` unless it exists; renamed into place when done."""
    target = folder / name
    if target.is_dir():
        return target
    tmp = temp_dir(f".{name}.", folder)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        build(tmp)
        write_json(tmp / "stage.json", {"stage": name, "wall_s": time.perf_counter() - start,
                                        "cpu_s": time.process_time() - cpu})
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _base_model(config: PrepareConfig, folder: Path) -> tuple[Any, Any]:
    """A fresh copy of the model to fine-tune, and its tokenizer."""
    if config.embedded:
        from transformers import PreTrainedTokenizerFast  # noqa: PLC0415

        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder / "tokenizer"))
        return build_model(tokenizer, size=config.size, seed=config.seed), tokenizer
    if config.model == "smollm2":
        from llm.models.smollm2 import load_smollm2  # noqa: PLC0415

        return load_smollm2(dtype=config.dtype)
    return load_pretrained(config.model, dtype=config.dtype, trust_remote_code=config.trust_remote_code,
                           pad_token=config.pad_token, revision=config.revision)


def _template_name(config: PrepareConfig, tokenizer: Any) -> str:
    if config.template is not None:
        return config.template
    return "chat" if getattr(tokenizer, "chat_template", None) else "phi"


def load_prepared(config: PrepareConfig, *, cache_dir: str | os.PathLike[str] | None = None) -> Prepared:
    """The complete cached entry for ``config``.

    Raises:
        ValueError: no complete entry (run ``prepare`` first).
    """
    resolved = config.resolved()
    folder = Path(cache_dir) if cache_dir is not None else cache_root() / cache_key(config)
    marker = folder / MARKER
    if not marker.is_file():
        raise ValueError(f"no complete prepared entry in {str(folder)!r}: run `ofmu llm prepare` with the same options")
    info = json.loads(marker.read_text(encoding="utf-8"))
    return Prepared(folder=folder, config=replace(resolved, template=info["template"]), info=info)


def prepare(config: PrepareConfig = PrepareConfig(), *, cache_dir: str | os.PathLike[str] | None = None,
            force: bool = False, progress: bool = False) -> Prepared:
    """Build (or find) the cached entry for ``config``; see the module docstring.

    Args:
        cache_dir: the entry's folder (default: ``cache_root()/cache_key(config)``).
        force: rebuild every stage.
    """
    resolved = config.resolved()
    folder = Path(cache_dir) if cache_dir is not None else cache_root() / cache_key(config)
    if force and folder.exists():
        shutil.rmtree(folder)
    if (folder / MARKER).is_file():
        if cache_dir is not None:
            check_entry(folder, config)
        logger.info("prepared entry found: %s", folder)
        return load_prepared(config, cache_dir=folder)
    if not resolved.embedded and resolved.model != "smollm2":  # a bad model source fails before any work
        check_source(resolved.model, revision=resolved.revision)
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    check_writable(folder, what="the prepared entry's folder")  # a read-only cache fails before any work
    try:
        return _build(config, resolved, folder, progress=progress)
    except BaseException:
        for made in created:  # a failed prepare leaves no empty folder behind (finished stages are kept)
            try:
                made.rmdir()
            except OSError:
                break
        raise


def _build(config: PrepareConfig, resolved: PrepareConfig, folder: Path, *, progress: bool) -> Prepared:
    """Build every missing stage of the entry in ``folder`` and write its marker (see :func:`prepare`)."""
    start = time.perf_counter()
    _stage(folder, "data", lambda tmp: _write_data(resolved, tmp))
    splits = load_folder(folder / "data", list(split_names(resolved)))
    world = splits["real_authors_perturbed"] + splits["world_facts_perturbed"] if resolved.world_knowledge else []
    if resolved.embedded:
        def build_tokenizer(tmp: Path) -> None:
            items = [it for name in split_names(resolved) for it in splits[name]]
            tok = train_tokenizer(corpus_texts(items), vocab_size=resolved.vocab_size,
                                  model_max_length=EMBEDDED_SIZES.get(resolved.size).n_positions)
            tok.save_pretrained(str(tmp))

        _stage(folder, "tokenizer", build_tokenizer)
    template_name = resolved.template
    if not resolved.embedded:
        def base_eval(tmp: Path) -> None:
            model, tokenizer = _base_model(resolved, folder)
            name = _template_name(resolved, tokenizer)
            entry = Prepared(folder=folder, config=resolved, info={"template": name})
            settings = replace(eval_config(resolved, show_progress=progress), metrics=KNOWLEDGE_METRICS)
            evaluate_tofu(model=model, tokenizer=tokenizer, template=name, data=eval_data(entry), output_dir=tmp,
                          config=settings)

        _stage(folder, "base_eval", base_eval)

    def train(which: str, items: list[QAItem]) -> None:
        def build(tmp: Path) -> None:
            nonlocal template_name
            model, tokenizer = _base_model(resolved, folder)
            template_name = _template_name(resolved, tokenizer)
            logger.info("prepare: fine-tuning the %s model on %d QA pairs", which, len(items))
            result = finetune(model, tokenizer, PROMPTS.get(template_name), items, resolved.recipe, seed=resolved.seed,
                              max_length=resolved.max_length, progress=progress,
                              label=f"fine-tuning the {which} model")
            save_pretrained(model, tokenizer, tmp)
            write_json(tmp / "train.json", {"items": len(items), "core": result.to_dict(),
                                            "template": template_name})

        _stage(folder, which, build)

    train("target", splits["full"] + world)
    train("retain", splits[resolved.retain_split] + world)
    template_name = json.loads((folder / "target" / "train.json").read_text(encoding="utf-8"))["template"]
    prepared = Prepared(folder=folder, config=replace(resolved, template=template_name),
                        info={"template": template_name})
    for which in ("retain", "target"):
        def run_eval(tmp: Path, which: str = which) -> None:
            model, tokenizer = prepared.load_model(which)
            evaluate_model(prepared, model, tokenizer, tmp, reference=which == "target", show_progress=progress)

        _stage(folder, f"{which}_eval", run_eval)
    read_eval_log(prepared.retain_eval)
    stages = {}
    for stage in ("data", "tokenizer", "base_eval", "target", "retain", "retain_eval", "target_eval"):
        file = folder / stage / "stage.json"
        if file.is_file():
            stages[stage] = json.loads(file.read_text(encoding="utf-8"))
    info = {"format": FORMAT, "key": cache_key(config), "template": template_name, "wall_s": time.perf_counter() - start,
            "stage_wall_s": {k: v["wall_s"] for k, v in stages.items()},
            "stage_cpu_s": {k: v.get("cpu_s") for k, v in stages.items()}, "sizes": {name: len(items) for name, items in splits.items()},
            "train_sets": {"target": len(splits["full"]) + len(world),
                           "retain": len(splits[resolved.retain_split]) + len(world)},
            "metadata": run_metadata(seed=resolved.seed, config=resolved.to_dict())}
    write_json(folder / MARKER, info)
    logger.info("prepared %s in %.1f s", folder, info["wall_s"])
    return Prepared(folder=folder, config=replace(resolved, template=template_name), info=info)
