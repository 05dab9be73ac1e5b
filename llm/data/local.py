"""Your own TOFU-format data: one JSON file of named splits, or a folder of split files, with any split names.

A prepared entry needs, besides the forget, retain and holdout splits, the splits TOFU's evaluation reads;
those missing from the data are derived the way TOFU relates them:

* ``<forget>_perturbed``: the forget split itself (its records must then carry ``paraphrased_answer``,
  ``perturbed_answer`` and ``paraphrased_question``);
* ``retain_perturbed``: the retain records that carry the perturbed fields;
* ``full``: forget + retain;
* ``real_authors_perturbed`` / ``world_facts_perturbed``: the tables shipped in ``llm/data`` (a notice says so).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from llm.data.loaders import REFERENCE_TABLES, _finish, load_reference_table, read_records, required_fields
from llm.data.schema import PERTURBED_FIELDS, QAItem, validate_records


def raw_splits(source: str | os.PathLike[str]) -> dict[str, Any]:
    """Split name → its raw records (a file) or its path (a folder), without validating the records.

    Args:
        source: a JSON file holding one object ``{split name: [records]}``, or a folder of ``<name>.json`` /
            ``<name>.jsonl`` files.
    """
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl") and p.is_file())
        if not files:
            raise ValueError(f"--data {str(path)!r}: no .json or .jsonl split files in the folder")
        return {p.stem: p for p in files}
    if not path.is_file():
        raise ValueError(f"--data {str(path)!r}: neither 'generated', 'hub', a file nor a folder")
    try:
        whole = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"--data {str(path)!r}: not a UTF-8 JSON document ({err})") from None
    if not isinstance(whole, dict) or not whole:
        raise ValueError(f"--data {str(path)!r}: one file must hold a JSON object mapping split names to lists of "
                         'TOFU records, e.g. {"forget": [...], "retain": [...], "holdout": [...]}')
    return whole


def fingerprint(source: str | os.PathLike[str]) -> str:
    """SHA-256 of the data's content (every split file of a folder, with its name)."""
    path = Path(source)
    digest = hashlib.sha256()
    for file in sorted(path.glob("*.json*")) if path.is_dir() else [path]:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _validate(raw: dict[str, Any], name: str, *, require: tuple[str, ...] | None = None) -> list[QAItem]:
    value = raw[name]
    records = read_records(value) if isinstance(value, Path) else value
    return _finish(validate_records(records, split=name, require=require or required_fields(name)), name)


def local_splits(source: str | os.PathLike[str], *, forget: str, retain: str,
                 holdout: str) -> tuple[dict[str, list[QAItem]], list[str]]:
    """Every split a prepared entry needs, from local data, and one notice per split derived or substituted.

    Raises:
        ValueError: a split is missing (the available names listed), a record is malformed, or no split
            supplies the perturbed fields the evaluation needs.
    """
    raw = raw_splits(source)
    missing = [n for n in (forget, retain, holdout) if n not in raw]
    if missing:
        raise ValueError(f"--data {str(source)!r}: split(s) {missing} not found; it has {sorted(raw)} (choose them "
                         "with --forget-split, --retain-split, --holdout-split)")
    notices: list[str] = []
    splits = {forget: _validate(raw, forget), retain: _validate(raw, retain), holdout: _validate(raw, holdout)}
    perturbed = f"{forget}_perturbed"
    if perturbed in raw:
        splits[perturbed] = _validate(raw, perturbed)
    else:
        try:
            splits[perturbed] = _validate(raw, forget, require=("question", "answer") + PERTURBED_FIELDS)
        except ValueError as err:
            raise ValueError(f"{err} (with no {perturbed!r} split the forget split is evaluated itself and needs "
                             f"{list(PERTURBED_FIELDS)})") from None
        notices.append(f"{perturbed}: not in the data; the forget split {forget!r} is evaluated (it has the "
                       "perturbed fields)")
    if "retain_perturbed" in raw:
        splits["retain_perturbed"] = _validate(raw, "retain_perturbed")
    else:
        rows = [it for it in splits[retain] if all(getattr(it, f) is not None for f in PERTURBED_FIELDS)]
        if len(rows) < 2:
            raise ValueError(f"--data {str(source)!r}: no 'retain_perturbed' split and {len(rows)} record(s) of the "
                             f"retain split {retain!r} carry {list(PERTURBED_FIELDS)}; model utility needs at least 2")
        splits["retain_perturbed"] = rows
        notices.append(f"retain_perturbed: not in the data; the {len(rows)} records of {retain!r} with the perturbed "
                       "fields are used")
    splits["full"] = _validate(raw, "full") if "full" in raw else splits[forget] + splits[retain]
    for table in REFERENCE_TABLES:
        if table in raw:
            splits[table] = _validate(raw, table)
        else:
            splits[table] = load_reference_table(table)
            notices.append(f"{table}: not in the data; using the table shipped with the toolkit")
    return splits, notices
