"""Submitting a model to the leaderboard, and verifying a submission by re-running folds.

``eegbench submission run --model NAME --out DIR [override ...]`` runs the model on
every official configuration (``conf/submission/official.yaml``) and writes a bundle:

- ``rows.jsonl``: every result row, sorted by key (one JSON object per line);
- ``manifest.json``: the model's origin (built-in or plugin distribution, version and a sha256
  of its source files), eegbench's version and git revision, the environment (Python,
  platform, package versions), the official file's sha256, and per configuration its
  overrides, resolved config hash and row count.

``eegbench submission verify DIR [--folds 2] [--tolerance 0.02] [--seed N]`` checks
the bundle, then re-runs a random sample of its folds from the recorded overrides and checks
that every metric reproduces within the tolerance (same thread count assumed: see the README
on determinism):

- ``rows.jsonl`` must match the manifest's sha256 and row count, every row must be a valid
  result row of schema >= 5 whose metrics are exactly those of the predictions it stores
  (:mod:`eegbench.results.recompute`), and every row's config hash must be one the manifest
  records;
- every override of the manifest must be allowed in a bundle (:mod:`eegbench.cli.overrides`),
  checked before Hydra composes anything;
- the folds re-run are drawn from the operating system's randomness (so a submitter cannot
  know them in advance); the seed is printed, and ``--seed N`` repeats a draw.

The functions here never touch Hydra: the command line (:mod:`eegbench.cli.submission`) gives
them ``compose`` (overrides -> the validated :class:`eegbench.config.Job`) and ``check`` (the
bundle allow-list of overrides, raising ``ValueError``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata as md
import inspect
import json
import logging
import platform
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from eegbench.config import Job
from eegbench.hashing import sha256_of
from eegbench.leaderboard.suite_spec import cell_job_overrides, load_suite, suite_dir
from eegbench.models.weights.known import find_known_checkpoint
from eegbench.resources import config_dir
from eegbench.results.recompute import EXACT_SCHEMA
from eegbench.results.row import ResultRow, row_key
from eegbench.results.store import ResultStore, parse_row

logger = logging.getLogger(__name__)

#: The official configurations shipped with eegbench.
OFFICIAL = config_dir() / "submission" / "official.yaml"


class SubmissionError(RuntimeError):
    """A bundle is malformed, or its folds do not reproduce."""


#: Composes eegbench's configuration with overrides into a validated evaluation job.
Compose = Callable[[list[str]], Job]
#: Checks overrides against the bundle allow-list: ``check(overrides, where)``; raises
#: ``ValueError`` naming the first override refused.
CheckOverrides = Callable[[list[str], str], object]


def _checked(check: CheckOverrides, overrides: list[str], where: str) -> None:
    try:
        check(list(overrides), where)
    except ValueError as err:
        raise SubmissionError(str(err)) from None


def official_configurations(path: Path = OFFICIAL) -> list[dict[str, Any]]:
    """Return the official configurations: ``[{"name": ..., "overrides": [...]}, ...]``."""
    raw = yaml.safe_load(Path(path).read_text())
    entries = raw.get("configurations") if isinstance(raw, dict) else None
    if not entries:
        raise SubmissionError(f"{path}: expected a 'configurations' list.")
    return [{"name": str(e["name"]), "overrides": [str(o) for o in e["overrides"]]}
            for e in entries]


def suite_file(name: str) -> Path:
    """Return the yaml of suite ``name`` (recorded in a bundle like the official file)."""
    return suite_dir() / f"{load_suite(name).name}.yaml"


def suite_configurations(name: str) -> list[dict[str, Any]]:
    """Return a suite's local cells as configurations: ``[{"name": <cell id>, ...}]``."""
    suite = load_suite(name)
    return [{"name": cell.id, "overrides": [*cell_job_overrides(suite, cell),
                                            f"suite={suite.name}", "seeds=[0]"]}
            for cell in suite.cells if cell.source == "local"]


def model_origin(name: str) -> dict[str, Any]:
    """Return where model ``name`` comes from: distribution, version, module, source sha256.

    The source hash covers every ``.py`` file of the package that defines the model's
    factory (for built-ins: the ``eegbench`` package folder of that module).
    """
    from eegbench.models.base import MODELS, load_builtin_models

    load_builtin_models()
    factory = MODELS.get(name)
    module = inspect.getmodule(factory)
    module_name = module.__name__ if module else "?"
    top = module_name.split(".")[0]
    dists = md.packages_distributions().get(top, [])
    distribution = dists[0] if dists else top
    try:
        dist_version = md.version(distribution)
    except md.PackageNotFoundError:
        dist_version = "unknown"
    digest = hashlib.sha256()
    if module and getattr(module, "__file__", None):
        folder = Path(module.__file__).resolve().parent
        for path in sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts):
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return {"model": name, "module": module_name, "distribution": distribution,
            "version": dist_version, "third_party": top != "eegbench",
            "source_sha256": digest.hexdigest()}


def environment() -> dict[str, Any]:
    """Return the Python, platform and result-relevant package versions."""
    from eegbench.results.provenance import git_revision, package_versions

    return {"python": platform.python_version(), "platform": platform.platform(),
            "packages": package_versions(), "eegbench_git": git_revision()}


def _rows_of(results_dir: Path) -> list[dict[str, Any]]:
    rows = ResultStore(results_dir).read_rows()
    return sorted(rows, key=lambda r: (r["dataset"], r["protocol"], r["config_hash"],
                                       str(r["fold"]), r["seed"], str(r["adaptation"])))


def run_submission(model: str, out: Path, overrides: list[str] | None = None,
                   configurations: list[dict[str, Any]] | None = None,
                   official: Path = OFFICIAL, *, compose: Compose,
                   check: CheckOverrides) -> Path:
    """Run ``model`` on the official configurations and write the bundle into ``out``.

    Re-running the same command resumes (finished folds are skipped). ``compose`` and
    ``check`` are the command line's (module docstring).

    Returns
    -------
    Path
        The bundle's ``manifest.json``.
    """
    from eegbench.evaluation.identity import identity_hash
    from eegbench.evaluation.job import run_experiment

    out = Path(out)
    overrides = list(overrides or [])
    entries = configurations or official_configurations()
    # the bundle will carry them: refuse now what verification would refuse
    _checked(check, [f"model={model}", *overrides], "the submission's overrides")
    for entry in entries:
        _checked(check, entry["overrides"], f"configuration {entry['name']!r}")
    runs = out / "runs"
    summary = []
    for entry in entries:
        job = compose([f"model={model}", *entry["overrides"], *overrides,
                       f"paths.runs_dir={runs}", f"paths.results_dir={runs / 'results'}"])
        rows = run_experiment(job)
        summary.append({**entry, "config_hash": identity_hash(job), "n_rows": len(rows)})
        logger.info("submission %s: %s done (%d rows)", model, entry["name"], len(rows))
    rows = _rows_of(runs / "results")
    withheld = withhold_restricted_weights(out, rows)
    (out / "rows.jsonl").write_text("".join(json.dumps(r, sort_keys=True, default=str) + "\n"
                                            for r in rows))
    manifest = {"model": model, "origin": model_origin(model), "environment": environment(),
                "official": {"file": Path(official).name, "sha256": sha256_of(official)},
                "user_overrides": overrides, "configurations": summary, "n_rows": len(rows),
                "rows_sha256": sha256_of(out / "rows.jsonl"), "withheld_weights": withheld,
                "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    logger.info("submission bundle: %s (%d rows)", out, len(rows))
    return path


#: Suffixes of files that hold model weights.
WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors", ".h5")


def restricted_checkpoints(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Return ``{registry entry: licence}`` of restricted checkpoints the rows were adapted from.

    Restricted: the licence forbids sharing anything derived from the weights (e.g. LUNA,
    CC BY-ND 4.0). A row's checkpoint is found from its ``weights`` provenance (registry
    name, source, sha256) or, for older rows, its configuration's
    ``model.params.checkpoint``.
    """
    out = {}
    for row in rows:
        weights = row.get("weights") or {}
        params = ((row.get("config") or {}).get("model") or {}).get("params") or {}
        source = (f"known:{weights['known']}" if weights.get("known")
                  else weights.get("source") or params.get("checkpoint"))
        try:
            entry = find_known_checkpoint(source, weights.get("sha256")) if source else None
        except ValueError:  # a source that names no registry entry
            entry = None
        if entry is not None and not entry.share_adapters:
            out[entry.name] = entry.licence or "unknown licence"
    return out


def withhold_restricted_weights(bundle: Path, rows: list[dict[str, Any]]) -> list[str]:
    """Delete weight files from ``bundle`` when the rows used weights that may not be shared.

    LUNA's weights are licensed CC BY-ND 4.0, which forbids sharing modified weights
    (fine-tuned weights, adapters, heads trained on top); entries of the known-checkpoints
    registry with ``share_adapters: false`` are treated alike. Result rows (metrics,
    predictions, configurations) may be shared and are kept.

    Returns
    -------
    list of str
        The deleted files, relative to ``bundle`` (recorded in the manifest).
    """
    restricted = restricted_checkpoints(rows)
    if not restricted:
        return []
    removed = []
    for path in sorted(Path(bundle).rglob("*")):
        if path.is_file() and path.suffix.lower() in WEIGHT_SUFFIXES:
            path.unlink()
            removed.append(path.relative_to(bundle).as_posix())
    names = ", ".join(f"{k} ({v})" for k, v in sorted(restricted.items()))
    logger.warning("the rows were adapted from %s, whose licence forbids sharing derived "
                   "weights: %s", names, f"removed {removed} from the bundle" if removed
                   else "no weight file is in the bundle")
    return removed


def _manifest_problem(manifest: Any) -> str | None:
    """Why a manifest lacks the structure :func:`verify_submission` relies on, or None."""
    if not isinstance(manifest, dict):
        return f"manifest.json holds {type(manifest).__name__}, not an object"
    if not isinstance(manifest.get("model"), str):
        return "manifest.json has no 'model' name"
    if not isinstance(manifest.get("user_overrides"), list):
        return "manifest.json has no 'user_overrides' list"
    entries = manifest.get("configurations")
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("name"), str)
            and isinstance(e.get("overrides"), list) and isinstance(e.get("config_hash"), str)
            for e in entries):
        return ("manifest.json 'configurations' is not a list of {name, overrides, "
                "config_hash} objects")
    if not isinstance(manifest.get("n_rows"), int):
        return "manifest.json has no 'n_rows' count"
    return None


def check_bundle_overrides(manifest: dict[str, Any], check: CheckOverrides) -> None:
    """Check every override a manifest records against the bundle allow-list (``check``).

    Raises
    ------
    SubmissionError
        Naming the override, where it is, and what a bundle may override.
    """
    _checked(check, [f"model={manifest['model']}"], "manifest.json 'model'")
    _checked(check, manifest["user_overrides"], "manifest.json 'user_overrides'")
    for entry in manifest["configurations"]:
        _checked(check, entry["overrides"], f"manifest.json configuration {entry['name']!r}")


def read_bundle(bundle: Path, check: CheckOverrides
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return the manifest and rows of a bundle, after checking both.

    Checked: the rows' sha256 and count against the manifest, every row (a valid result row
    whose metrics are those of its own predictions, a config hash the manifest records, no
    duplicate fold), and every override against the bundle allow-list.

    Raises
    ------
    SubmissionError
        If a file is missing, ``rows.jsonl`` does not match the manifest, a row is invalid
        or was edited, or an override is not allowed (the message names it).
    """
    bundle = Path(bundle)
    for name in ("manifest.json", "rows.jsonl"):
        if not (bundle / name).is_file():
            raise SubmissionError(f"{bundle}: not a submission bundle ({name} is missing).")
    try:
        manifest = json.loads((bundle / "manifest.json").read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SubmissionError(f"{bundle / 'manifest.json'}: not valid JSON ({err}).") from None
    problem = _manifest_problem(manifest)
    if problem is not None:
        raise SubmissionError(f"{bundle}: {problem}.")
    actual = sha256_of(bundle / "rows.jsonl")
    if actual != manifest.get("rows_sha256"):
        raise SubmissionError(f"{bundle / 'rows.jsonl'}: sha256 {actual} differs from the "
                              f"manifest's {manifest.get('rows_sha256')}; the rows were edited "
                              "after the bundle was written.")
    check_bundle_overrides(manifest, check)
    hashes = {e["config_hash"] for e in manifest["configurations"]}
    rows, keys = [], set()
    lines = (bundle / "rows.jsonl").read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{bundle / 'rows.jsonl'}, line {number}"
        try:
            row, problem = parse_row(line, where)
        except ValueError as err:  # a newer schema
            raise SubmissionError(str(err)) from None
        if problem is not None:
            raise SubmissionError(f"{where}: {problem}.")
        key = row_key({k: row.get(k) for k in ResultRow.key_fields})
        if row["schema_version"] < EXACT_SCHEMA:  # 4-decimal rows leave slack to forge in
            raise SubmissionError(f"{where}: row {key} has schema {row['schema_version']}; a "
                                  f"bundle's rows must be of schema >= {EXACT_SCHEMA}, whose "
                                  "metrics recompute exactly from their predictions. Re-run "
                                  "`eegbench submission run` with this eegbench.")
        if row["config_hash"] not in hashes:
            raise SubmissionError(f"{where}: row {key} has config {row['config_hash']}, which "
                                  "no configuration of the manifest produced.")
        if key in keys:
            raise SubmissionError(f"{where}: row {key} appears twice.")
        keys.add(key)
        rows.append(row)
    if len(rows) != manifest["n_rows"]:
        raise SubmissionError(f"{bundle / 'rows.jsonl'} holds {len(rows)} rows but the manifest "
                              f"says {manifest['n_rows']}.")
    return manifest, rows


def _refit_fold(job: Job, row: dict[str, Any]) -> dict[str, float]:
    """Re-run the fold of ``row`` under ``job``; return its metrics."""
    from eegbench.adaptation.calibration import BaseModelCache
    from eegbench.evaluation.fold import fit_and_score
    from eegbench.evaluation.identity import identity_hash
    from eegbench.evaluation.plan import load_dataset, protocol_plan

    chash = identity_hash(job)
    if chash != row["config_hash"]:
        raise SubmissionError(f"The recorded overrides resolve to config {chash} here, but the "
                              f"row has {row['config_hash']}: eegbench's configuration "
                              "differs from the submitter's.")
    plan = protocol_plan(job, load_dataset(job))
    seed = int(row["seed"])
    folds = {f.name: f for f in plan.folds(seed) if f.shots == row.get("shots")}
    if row["fold"] not in folds:
        raise SubmissionError(f"Fold {row['fold']!r} does not exist here (folds: "
                              f"{sorted(folds)[:5]}...): the data differ from the submitter's.")
    fold = folds[row["fold"]]
    # the job's own path: calibration windows left out, shared (re-centred) features
    features = None if len(fold.calib) else plan.shared_features(job, seed)
    new, _ = fit_and_score(job, plan.ds, fold, seed, chash, plan.calibration,
                           BaseModelCache(), features)
    return new.metrics


def draw_seed() -> int:
    """Return a fresh seed for the fold sample, from the operating system's randomness."""
    return secrets.randbits(63)


def verify_submission(bundle: Path, n_folds: int = 2, tolerance: float = 0.02,
                      seed: int | None = None, *, compose: Compose,
                      check: CheckOverrides) -> pd.DataFrame:
    """Check a bundle (:func:`read_bundle`), then re-run ``n_folds`` random folds of it.

    Parameters
    ----------
    bundle : Path
        The bundle folder.
    n_folds : int
        Folds to re-run.
    tolerance : float
        Largest accepted absolute difference between a claimed and a reproduced metric.
    seed : int, optional
        Seed of the fold sample; None draws one from the operating system's randomness
        (:func:`draw_seed`). The seed is logged and stored in ``report.attrs["seed"]``.
    compose, check
        The command line's (module docstring).

    Returns
    -------
    DataFrame
        One row per metric compared.

    Raises
    ------
    SubmissionError
        If the bundle is invalid, or any metric differs by more than ``tolerance`` (the
        report is in the message).
    """
    manifest, rows = read_bundle(bundle, check)
    rows = [r for r in rows if not str(r["adaptation"]).startswith("layer_probe:")]
    if not rows:
        raise SubmissionError(f"{bundle}: the bundle holds no result rows.")
    seed = draw_seed() if seed is None else int(seed)
    logger.info("verification seed %d (repeat this draw with --seed %d)", seed, seed)
    by_hash = {c["config_hash"]: c for c in manifest["configurations"]}
    rng = np.random.default_rng(seed)
    picked = [rows[i] for i in sorted(rng.choice(len(rows), min(n_folds, len(rows)),
                                                 replace=False))]
    logger.info("re-running fold(s) %s", [f"{r['dataset']}/{r['fold']}/seed {r['seed']}"
                                          for r in picked])
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for row in picked:
            entry = by_hash[row["config_hash"]]
            job = compose([f"model={manifest['model']}", *entry["overrides"],
                           *manifest["user_overrides"], f"paths.runs_dir={tmp}"])
            metrics = _refit_fold(job, row)
            for metric, claimed in row["metrics"].items():
                claimed = float("nan") if claimed is None else float(claimed)
                again = metrics.get(metric, float("nan"))
                both_nan = np.isnan(claimed) and np.isnan(again)
                ok = bool(both_nan or abs(float(again) - float(claimed)) <= tolerance)
                records.append({"configuration": entry["name"], "fold": row["fold"],
                                "seed": row["seed"], "metric": metric, "claimed": claimed,
                                "reproduced": again, "ok": ok})
    report = pd.DataFrame.from_records(records)
    report.attrs["seed"] = seed
    bad = report[~report["ok"]]
    if len(bad):
        raise SubmissionError(f"{len(bad)} metric(s) of {bundle} do not reproduce within "
                              f"{tolerance} (verification seed {seed}):\n"
                              f"{bad.to_string(index=False)}")
    logger.info("verified %d fold(s) of %s within %s (verification seed %d):\n%s",
                len(picked), bundle, tolerance, seed, report.to_string(index=False))
    return report
