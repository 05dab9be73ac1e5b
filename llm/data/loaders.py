"""Loading TOFU splits: local JSON / JSON-lines files, the shipped reference tables, the public hub dataset.

Nothing here downloads unless :func:`load_tofu_hub` is called, and that imports ``datasets``
lazily so the rest of the toolkit works without it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm.data.schema import PERTURBED_FIELDS, REQUIRED_FIELDS, QAItem, validate_records

TOFU_HUB_ID = "locuslab/TOFU"
_DATA_DIR = Path(__file__).resolve().parent
REFERENCE_TABLES: tuple[str, ...] = ("real_authors_perturbed", "world_facts_perturbed")


def required_fields(split: str) -> tuple[str, ...]:
    """Fields a split named ``split`` must carry, following TOFU's naming.

    ``real_authors*`` / ``world_facts*``: question, answer and the wrong options;
    other ``*_perturbed`` splits: all perturbed fields; anything else: question and answer.
    """
    if split.startswith(("real_authors", "world_facts")):
        return REQUIRED_FIELDS + ("perturbed_answer",)
    if split.endswith("_perturbed"):
        return REQUIRED_FIELDS + PERTURBED_FIELDS
    return REQUIRED_FIELDS


def _finish(items: list[QAItem], split: str) -> list[QAItem]:
    """TOFU scores real_authors / world_facts against the answer itself: fill paraphrased_answer."""
    if split.startswith(("real_authors", "world_facts")):
        return [it if it.paraphrased_answer else dataclasses.replace(it, paraphrased_answer=it.answer) for it in items]
    return items


def read_records(path: str | os.PathLike[str]) -> list[Any]:
    """Read raw records from a ``.json`` file (a JSON list) or a JSON-lines file.

    TOFU's own repository stores some ``.json`` files as JSON lines, so a ``.json`` file whose
    first non-blank character is not ``[`` is read as JSON lines.

    Raises:
        ValueError: if the file is missing, not UTF-8, a line / the document is not valid JSON, or a ``.json``
            file holds one JSON object instead of a list.
    """
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"path {str(file)!r} is not a file")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{file}: not UTF-8 text (byte {err.start}: {err.reason}); save the file as UTF-8") from None
    if file.suffix != ".jsonl" and text.lstrip().startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{file}: invalid JSON ({err})") from None
    if file.suffix != ".jsonl" and text.lstrip().startswith("{"):
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None  # JSON lines: one object per line
        if isinstance(whole, dict):
            raise ValueError(f"{file}: holds one JSON object, not a list of records; write a JSON list "
                             "([{...}, ...]) or JSON lines (one record per line, e.g. as .jsonl)")
    records = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{file}: line {line_no} is not valid JSON ({err})") from None
    return records


def load_split(
    path: str | os.PathLike[str], *, split: str | None = None, require: Sequence[str] | None = None,
    n_perturbed: int | None = None,
) -> list[QAItem]:
    """Load and validate one split from a local JSON or JSON-lines file in TOFU's schema.

    Args:
        path: the file.
        split: the split's name, used in error messages and to infer ``require`` (default: the file's stem).
        require: fields every record must have (default: :func:`required_fields` of the split name).
        n_perturbed: the exact number of perturbed answers wanted, or None for any.
    """
    name = split if split is not None else Path(path).stem
    fields = tuple(require) if require is not None else required_fields(name)
    return _finish(validate_records(read_records(path), split=name, require=fields, n_perturbed=n_perturbed), name)


def load_folder(folder: str | os.PathLike[str], names: Sequence[str]) -> dict[str, list[QAItem]]:
    """Load the splits ``names`` from ``folder/<name>.json`` (or ``.jsonl``), checked with :func:`required_fields`."""
    root = Path(folder)
    out: dict[str, list[QAItem]] = {}
    for name in names:
        candidates = [root / f"{name}.json", root / f"{name}.jsonl"]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            raise ValueError(f"split {name!r} not found in {str(root)!r} (looked for {name}.json and {name}.jsonl)")
        out[name] = load_split(path, split=name)
    return out


def load_reference_table(name: str) -> list[QAItem]:
    """One of the shipped tables of real facts: ``real_authors_perturbed`` or ``world_facts_perturbed``.

    Each item has a question, the answer (also used as ``paraphrased_answer``, as TOFU does for
    these splits) and three wrong options in ``perturbed_answer``.
    """
    if name not in REFERENCE_TABLES:
        raise ValueError(f"name must be one of {REFERENCE_TABLES}, got {name=!r}")
    return load_split(_DATA_DIR / f"{name}.json", split=name, n_perturbed=3)


def load_tofu_hub(
    config: str, *, split: str = "train", revision: str | None = None, cache_dir: str | None = None
) -> list[QAItem]:
    """Load a config of the public TOFU dataset (``locuslab/TOFU``) through ``datasets``.

    Needs the ``datasets`` package and network access (or a populated Hugging Face cache).

    Args:
        config: the TOFU config name, e.g. ``"forget10_perturbed"``, ``"retain90"``, ``"holdout10"``.
        split: the dataset split inside the config (TOFU uses ``"train"``).
        revision: a dataset revision to pin, for reproducibility.
        cache_dir: the ``datasets`` cache folder.
    """
    try:
        import datasets  # noqa: PLC0415 - optional dependency, imported only on demand
    except ImportError:
        raise ValueError(
            "loading TOFU from the hub needs the 'datasets' package and network access: "
            "pip install datasets (or load local JSON files with llm.data.load_split)"
        ) from None
    rows = datasets.load_dataset(TOFU_HUB_ID, config, split=split, revision=revision, cache_dir=cache_dir)
    return _finish(validate_records([dict(row) for row in rows], split=config, require=required_fields(config)), config)
