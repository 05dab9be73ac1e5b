"""The WMDP bench's prepared entry (cached): the data in WMDP's layout, the target model, its accuracies.

:class:`WmdpConfig` names the data — the generated corpus (:mod:`llm.wmdp.corpus`, written into the entry
in WMDP's layout) or local files in that layout (``forget_corpus``, ``retain_corpus``, ``forget_mc``,
``utility_mc``) — and the model: the embedded GPT-2 (``model="embedded"``: a tokenizer trained on the two
corpora, the model trained from scratch on both through the core, :func:`llm.train.training_plan`) or a
pretrained model folder / hub id, taken as it is (it already holds its knowledge). Both kinds of data go
through the same loaders (:mod:`llm.wmdp.loaders`), so the bench runs unchanged on real WMDP / MMLU files.

Entry ``$OFMU_CACHE/llm/wmdp-<key>/`` (``key`` = hash of the config and the data files' bytes): ``data/``
(the generated files), ``target/`` (safetensors + tokenizer), ``prepare.json`` (config, timings, the
target's accuracies; written last, marking the entry complete).

**Validation split.** The multiple-choice rows of each subject are split once by a seeded permutation:
``tune_share`` of them (rounded, at least one when a subject has two rows) tune the methods, the rest are
reported; :func:`split_questions`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from llm.prepare import cache_root
from llm.runner import execute
from llm.train import TrainRecipe, training_plan
from llm.wmdp.corpus import FILES, GENERATOR_VERSION, generate_corpus, write_corpus
from llm.wmdp.evaluate import MC_FORMATS, mc_accuracy, perplexity
from llm.wmdp.loaders import load_mc_files, load_texts
from llm.wmdp.schema import MCQuestion
from llm.wmdp.task import text_rows
from ofmu_theory.io import temp_dir, write_json

logger = logging.getLogger(__name__)
FORMAT = "ofmu-wmdp-prepared/1"
MARKER = "prepare.json"
#: The embedded model's training recipe on the generated corpus (measured: docs/wmdp.md).
EMBEDDED_RECIPE = TrainRecipe(epochs=60.0, lr=3e-3, batch_size=16, warmup_epochs=2.0, weight_decay=0.01)


@dataclass(frozen=True, kw_only=True)
class WmdpConfig:
    """What a prepared entry is made of.

    Attributes:
        forget_corpus, retain_corpus: ``{"text"}`` JSON / JSON-lines files (None: the generated corpus).
        forget_mc: WMDP-layout question files (each file's name is its domain); utility_mc: MMLU-layout files.
        model: ``"embedded"`` or a local folder / hub id of a pretrained causal LM (safetensors).
        size: the embedded model's size. n_forget, n_retain: generated corpus entities. seed: corpus, model,
            training and split seed.
        train_epochs, train_lr, train_batch_size: the embedded model's training (None: :data:`EMBEDDED_RECIPE`).
        max_length: longest tokenised record / question. truncate: cut longer corpus records instead of failing.
        mc_format: ``"cloze"`` or ``"mmlu"`` (:mod:`llm.wmdp.evaluate`). tune_share: the validation share.
        pad_token: pad token for a pretrained tokenizer without one.
        paraphrase: generated corpus: word the questions by the other template than the corpus's review lines.
    """

    forget_corpus: str | None = None
    retain_corpus: str | None = None
    forget_mc: tuple[str, ...] = ()
    utility_mc: tuple[str, ...] = ()
    model: str = "embedded"
    size: str = "tiny"
    n_forget: int = 40
    n_retain: int = 40
    seed: int = 0
    train_epochs: float | None = None
    train_lr: float | None = None
    train_batch_size: int | None = None
    max_length: int = 256
    truncate: bool = False
    mc_format: str = "cloze"
    tune_share: float = 1 / 3
    pad_token: str | None = None
    paraphrase: bool = False

    def __post_init__(self) -> None:
        files = (self.forget_corpus, self.retain_corpus, self.forget_mc, self.utility_mc)
        given = [bool(f) for f in files]
        if any(given) and not all(given):
            raise ValueError("local data needs all four: forget_corpus, retain_corpus, forget_mc and utility_mc "
                             "(--forget-corpus, --retain-corpus, --forget-mc, --utility-mc); none: the generated corpus")
        if self.mc_format not in MC_FORMATS:
            raise ValueError(f"mc_format must be one of {MC_FORMATS}, got mc_format={self.mc_format!r}")
        if not 0.0 < self.tune_share < 1.0:
            raise ValueError(f"tune_share must be in (0, 1), got tune_share={self.tune_share!r}")

    @property
    def generated(self) -> bool:
        return self.forget_corpus is None

    def recipe(self) -> TrainRecipe:
        base = EMBEDDED_RECIPE
        return TrainRecipe(epochs=self.train_epochs or base.epochs, lr=self.train_lr or base.lr,
                           batch_size=self.train_batch_size or base.batch_size, warmup_epochs=base.warmup_epochs,
                           weight_decay=base.weight_decay)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["forget_mc"], out["utility_mc"] = list(self.forget_mc), list(self.utility_mc)
        return out


@dataclass(frozen=True, kw_only=True)
class WmdpData:
    """The loaded data: corpora, and each question set split into tune and eval rows."""

    forget_texts: list[str]
    retain_texts: list[str]
    forget_mc: dict[str, list[MCQuestion]]  # role -> rows
    utility_mc: dict[str, list[MCQuestion]]


def split_questions(questions: Sequence[MCQuestion], *, share: float, seed: int) -> dict[str, list[MCQuestion]]:
    """``{"tune": ..., "eval": ...}``: per subject, a seeded permutation's first ``round(share · n)`` rows (at least
    one when n ≥ 2, never all) tune, the rest are reported; order within each role follows the file."""
    tune_idx: set[int] = set()
    subjects = dict.fromkeys(q.subject for q in questions)
    for subject in subjects:
        idx = [i for i, q in enumerate(questions) if q.subject == subject]
        k = min(max(round(share * len(idx)), 1 if len(idx) >= 2 else 0), len(idx) - 1)
        tune_idx.update(random.Random(f"wmdp-split-{seed}-{subject}").sample(idx, k))
    return {"tune": [q for i, q in enumerate(questions) if i in tune_idx],
            "eval": [q for i, q in enumerate(questions) if i not in tune_idx]}


def _files(config: WmdpConfig, data_dir: Path) -> dict[str, Any]:
    if config.generated:
        return {"forget_corpus": data_dir / FILES["forget_corpus"], "retain_corpus": data_dir / FILES["retain_corpus"],
                "forget_mc": (data_dir / FILES["forget_mc"],), "utility_mc": (data_dir / FILES["utility_mc"],)}
    return {"forget_corpus": Path(config.forget_corpus), "retain_corpus": Path(config.retain_corpus),
            "forget_mc": tuple(Path(p) for p in config.forget_mc), "utility_mc": tuple(Path(p) for p in config.utility_mc)}


def load_data(config: WmdpConfig, data_dir: Path) -> WmdpData:
    """The entry's data through the loaders (generated files in ``data_dir``, or the config's local files)."""
    f = _files(config, data_dir)
    split = dict(share=config.tune_share, seed=config.seed)
    return WmdpData(forget_texts=load_texts(f["forget_corpus"]), retain_texts=load_texts(f["retain_corpus"]),
                    forget_mc=split_questions(load_mc_files(f["forget_mc"]), **split),
                    utility_mc=split_questions(load_mc_files(f["utility_mc"], mmlu=True), **split))


def cache_key(config: WmdpConfig) -> str:
    """16 hex digits of the SHA-256 of the config and the data (the generator's version, or the files' bytes)."""
    digest = hashlib.sha256(json.dumps({"format": FORMAT, "config": config.to_dict()}, sort_keys=True).encode())
    if config.generated:
        digest.update(f"generator {GENERATOR_VERSION}".encode())
    else:
        f = _files(config, Path("."))
        for path in (f["forget_corpus"], f["retain_corpus"], *f["forget_mc"], *f["utility_mc"]):
            if not path.is_file():
                raise ValueError(f"data file {str(path)!r} is not a file")
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class WmdpEntry:
    """A complete prepared entry."""

    folder: Path
    config: WmdpConfig
    info: dict[str, Any]

    def data(self) -> WmdpData:
        return load_data(self.config, self.folder / "data")

    def load_model(self) -> tuple[Any, Any]:
        """The target model and tokenizer (safetensors, no network)."""
        from llm.models.hub import load_pretrained  # noqa: PLC0415

        return load_pretrained(self.folder / "target", dtype="float32", local_files_only=True)


def measure(model: Any, tokenizer: Any, data: WmdpData, config: WmdpConfig, *, role: str) -> dict[str, Any]:
    """Forget and utility accuracy (acc, acc_norm, per subject) on ``role``'s rows, and the forget perplexity."""
    opts = dict(mc_format=config.mc_format, max_length=config.max_length)
    forget = mc_accuracy(model, tokenizer, data.forget_mc[role], **opts)
    utility = mc_accuracy(model, tokenizer, data.utility_mc[role], **opts)
    rows = text_rows(tokenizer, data.forget_texts, name="forget", max_length=config.max_length,
                     overflow="truncate" if config.truncate else "error")
    out = {"forget_acc": forget["acc"], "forget_acc_norm": forget["acc_norm"], "utility_acc": utility["acc"],
           "utility_acc_norm": utility["acc_norm"], "forget_ppl": perplexity(model, rows),
           "per_subject": {**forget["per_subject"], **utility["per_subject"]}}
    return out


def _train_embedded(config: WmdpConfig, data: WmdpData, folder: Path) -> tuple[Any, Any]:
    from llm.models.embedded import build_model, train_tokenizer  # noqa: PLC0415

    tokenizer = train_tokenizer([*data.forget_texts, *data.retain_texts], model_max_length=config.max_length)
    model = build_model(tokenizer, size=config.size, seed=config.seed)
    overflow = "truncate" if config.truncate else "error"
    rows = text_rows(tokenizer, [*data.forget_texts, *data.retain_texts], name="train",
                     max_length=config.max_length, overflow=overflow)
    model.train()
    plan = training_plan(model, rows, config.recipe(), seed=config.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        result = execute(plan)
    if not result.success:
        raise ValueError(f"training the target diverged after {result.nit} steps ({result.message}); lower train_lr")
    plan.params.assign(result.theta)
    model.eval()
    logger.info("trained the target: %d steps, NLL %.4f -> %.4f in %.1f s", result.nit, result.trace["loss_r"][0],
                result.trace["loss_r"][-1], result.wall_s)
    return model, tokenizer


def prepare(config: WmdpConfig = WmdpConfig(), *, cache_dir: str | os.PathLike[str] | None = None,
            force: bool = False) -> WmdpEntry:
    """Build (or find) the entry of ``config`` (module docstring)."""
    from llm.models.storage import save_pretrained  # noqa: PLC0415

    folder = Path(cache_dir) if cache_dir is not None else cache_root() / f"wmdp-{cache_key(config)}"
    if force and folder.exists():
        shutil.rmtree(folder)
    if (folder / MARKER).is_file():
        return WmdpEntry(folder=folder, config=config, info=json.loads((folder / MARKER).read_text(encoding="utf-8")))
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    tmp = temp_dir(".build.", folder)
    try:
        if config.generated:
            write_corpus(generate_corpus(n_forget=config.n_forget, n_retain=config.n_retain, seed=config.seed,
                                         mc_template=1 if config.paraphrase else 0), tmp / "data")
        data = load_data(config, tmp / "data")
        t0 = time.perf_counter()
        if config.model == "embedded":
            model, tokenizer = _train_embedded(config, data, folder)
        else:
            from llm.models.hub import load_pretrained  # noqa: PLC0415

            model, tokenizer = load_pretrained(config.model, dtype="float32", pad_token=config.pad_token)
        train_s = time.perf_counter() - t0
        save_pretrained(model, tokenizer, tmp / "target")
        target = {role: measure(model, tokenizer, data, config, role=role) for role in ("tune", "eval")}
        for name in ("data", "target"):
            if (tmp / name).exists():
                if (folder / name).exists():
                    shutil.rmtree(folder / name)
                os.replace(tmp / name, folder / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info = {"format": FORMAT, "config": config.to_dict(), "train_s": train_s,
            "prepare_s": time.perf_counter() - start, "target": target,
            "sizes": {"forget_texts": len(data.forget_texts), "retain_texts": len(data.retain_texts),
                      **{f"forget_mc_{r}": len(v) for r, v in data.forget_mc.items()},
                      **{f"utility_mc_{r}": len(v) for r, v in data.utility_mc.items()}}}
    write_json(folder / MARKER, info)
    return WmdpEntry(folder=folder, config=config, info=info)


def main(argv: list[str] | None = None) -> int:
    """``python -m llm.wmdp.prepare [--seed N] [--size S]``: build (or find) the default entry and print the target's
    accuracies on both roles and the training time (the numbers docs/wmdp.md quotes)."""
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m llm.wmdp.prepare")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--paraphrase", action="store_true", help="questions worded unlike the corpus's review lines")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    entry = prepare(WmdpConfig(seed=args.seed, size=args.size, paraphrase=args.paraphrase))
    info = entry.info
    for role in ("tune", "eval"):
        t = info["target"][role]
        print(f"{role}: forget acc {t['forget_acc']:.3f} (acc_norm {t['forget_acc_norm']:.3f}), utility acc "
              f"{t['utility_acc']:.3f} (acc_norm {t['utility_acc_norm']:.3f}), forget ppl {t['forget_ppl']:.3f}; "
              + ", ".join(f"{s} {v['acc']:.3f} (n={v['n']})" for s, v in t["per_subject"].items()))
    print(f"entry {entry.folder.name} (built in {info['prepare_s']:.1f} s, training {info['train_s']:.1f} s), "
          f"sizes {info['sizes']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
