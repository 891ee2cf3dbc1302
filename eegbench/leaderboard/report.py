"""Build the leaderboard files from a results store: Markdown, CSV, HTML and plots.

Everything but the plots is a pure function of the stored rows (no timestamps, sorted
output), so rebuilding from the same store gives byte-identical ``.md``, ``.csv`` and
``.html`` files.

The files are written into a temporary folder ``<out>/.<name>.staging-*``; once complete it
is renamed to ``<out>/.<name>.ready`` (atomic), then each file (and the plots folder) is moved
into place and the folder removed. A build killed before the rename leaves the previous
leaderboard untouched (and its staging folder is removed by the next build); one killed
during the moves is finished by the next build or :func:`finish_swap` before anything else,
so new and stale files never stay side by side.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from eegbench.leaderboard.data_versions import DATA_VERSIONS_NAME, DataVersions, data_versions_of
from eegbench.leaderboard.escape import md_heading, md_text
from eegbench.leaderboard.html import render_html, render_markdown_page
from eegbench.leaderboard.ranks import RANKS_CAPTION, aggregate_ranks, ranks_to_markdown
from eegbench.leaderboard.regression import NOTES as REGRESSION_NOTES
from eegbench.leaderboard.regression import summarize as regression_summarize
from eegbench.leaderboard.regression import to_markdown as regression_markdown
from eegbench.leaderboard.stats import WILCOXON_DESCRIPTION
from eegbench.leaderboard.tables import (
    BLOCK_COLUMNS,
    DEFAULT_METRICS,
    is_regression,
    per_subject_table,
    prepare,
    primary_metrics,
    summarize,
    to_markdown,
)
from eegbench.results.shipped import load_frame

logger = logging.getLogger(__name__)

#: File of a table's foundation-vs-reference comparisons (``<name>_foundation_vs_references.csv``).
FOUNDATION_SUFFIX = "_foundation_vs_references.csv"
#: Packages shown in the provenance lines.
PROVENANCE_PACKAGES = ("eegbench", "python", "torch", "braindecode", "mne", "scikit-learn",
                       "pyriemann", "numpy", "scipy")


def block_provenance(frame: pd.DataFrame,
                     versions: DataVersions | None = None) -> dict[tuple, str]:
    """Return, per table, the rows, git revisions, schema, data and package versions.

    The data versions are the rows' data fingerprints mapped through ``versions``
    (:meth:`DataVersions.canonical`): an old fingerprint verified to name the same windows is
    shown as the content fingerprint of those windows.
    """
    versions = versions or DataVersions()
    out = {}
    for key, block in frame.groupby(BLOCK_COLUMNS, sort=True):
        revisions = sorted(block["git_revision"].astype(str).unique())
        schemas = sorted(block["schema_version"].astype(int).unique())
        data = (sorted(set(versions.canonical_column(block).dropna()))
                if "data_fingerprint" in block else [])
        packages = []
        for package in PROVENANCE_PACKAGES:
            values = sorted({str(v.get(package, "?")) for v in block["versions"]})
            packages.append(f"{package} {'/'.join(values)}")
        out[key] = (f"{len(block)} rows; git {', '.join(revisions)}; schema "
                    f"v{'/'.join(str(s) for s in schemas)}; "
                    + (f"data {'/'.join(data)}; " if data else "") + ", ".join(packages))
    return out


#: Values of the ``kind`` filter: every row, only classification rows, only regression rows.
KINDS = ("all", "classification", "regression")

#: Values of the ``probes`` filter: keep layer-probe rows, drop them, or keep only them (with
#: the rows of the networks they probe).
PROBE_FILTERS = ("include", "exclude", "only")


def filter_frame(frame: pd.DataFrame, protocols: Sequence[str] | None = None,
                 datasets: Sequence[str] | None = None, probes: str = "include",
                 families: Sequence[str] | None = None) -> pd.DataFrame:
    """Keep the rows of the given protocols, datasets and model families (all when None).

    ``probes`` selects layer-wise probe rows (adaptation ``layer_probe:*``): ``include``,
    ``exclude``, or ``only`` (the probes plus the fine-tuned network of the same config).
    """
    if probes not in PROBE_FILTERS:
        raise ValueError(f"Invalid value for the 'probes' parameter. Allowed values are "
                         f"{list(PROBE_FILTERS)}, but got {probes!r}.")
    if frame.empty:
        return frame
    is_probe = frame["adaptation"].astype(str).str.startswith("layer_probe:")
    if probes == "exclude":
        frame = frame[~is_probe]
    elif probes == "only":
        frame = frame[is_probe | frame["config_hash"].isin(set(frame.loc[is_probe,
                                                                         "config_hash"]))]
    if protocols:
        frame = frame[frame["protocol"].isin(list(protocols))]
    if datasets:
        frame = frame[frame["dataset"].isin(list(datasets))]
    if families:
        frame = frame[frame["family"].isin(list(families))]
    return frame


#: Row fields naming what a result was computed from (data, model code, checkpoint).
FINGERPRINT_COLUMNS = ("data_fingerprint", "code_fingerprint", "checkpoint")
#: Rows of one configuration (one line of a table).
_CONFIG_COLUMNS = ["dataset", "task", "protocol", "model", "adaptation", "config_hash"]


def drop_superseded(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep, per configuration, only the rows computed from its newest data and code.

    When the data (recordings added, changed or removed), the model code or the checkpoint
    changed, a re-run stores new rows beside the old ones (their keys differ). A table must
    not average them: for each configuration, the rows of the fingerprint
    (``data_fingerprint``, ``code_fingerprint``, ``checkpoint``) with the most recent
    ``created_at`` are kept and the older ones left out, with a warning.
    """
    if frame.empty or not all(c in frame for c in (*FINGERPRINT_COLUMNS, "created_at")):
        return frame
    prints = frame[list(FINGERPRINT_COLUMNS)].astype(object).where(
        frame[list(FINGERPRINT_COLUMNS)].notna(), "").astype(str).agg("|".join, axis=1)
    keep = pd.Series(True, index=frame.index)
    for _, group in frame.groupby(_CONFIG_COLUMNS, sort=False, dropna=False):
        versions = prints.loc[group.index]
        if versions.nunique() < 2:
            continue
        newest = group["created_at"].astype(str).groupby(versions).max().idxmax()
        old = group.index[versions != newest]
        keep.loc[old] = False
        logger.warning("%s / %s / %s (config %s): %d row(s) computed from older data or code "
                       "are superseded and left out of the tables", group["dataset"].iloc[0],
                       group["model"].iloc[0], group["adaptation"].iloc[0],
                       group["config_hash"].iloc[0], len(old))
    return frame[keep]


def _ready_dir(out_dir: Path, name: str) -> Path:
    return out_dir / f".{name}.ready"


def finish_swap(out_dir: Path, name: str) -> bool:
    """Move a complete new leaderboard (``.<name>.ready``) into place; True if one was there.

    Each file replaces its old version with one rename; the plots folder replaces the old
    one whole (stale plots do not survive). Safe to run again after being killed.
    """
    ready = _ready_dir(out_dir, name)
    if not ready.is_dir():
        return False
    for item in sorted(ready.iterdir()):
        target = out_dir / item.name
        if item.is_dir():
            if target.exists():
                trash = out_dir / f".{item.name}.old"
                shutil.rmtree(trash, ignore_errors=True)
                os.replace(target, trash)
                shutil.rmtree(trash, ignore_errors=True)
            os.replace(item, target)
        else:
            os.replace(item, target)
    shutil.rmtree(ready, ignore_errors=True)
    return True


def build(results_dir: Path, out_dir: Path, name: str,
          metrics: Sequence[str] = DEFAULT_METRICS, command: str | None = None,
          protocols: Sequence[str] | None = None, datasets: Sequence[str] | None = None,
          test: str = "wilcoxon", plots: bool = True, probes: str = "include",
          families: Sequence[str] | None = None, kind: str = "all") -> dict[str, Path]:
    """Write the leaderboard files into ``out_dir``.

    Files: ``<name>.md``, ``<name>.csv``, ``<name>_per_subject.csv``, ``<name>.html`` and
    ``<name>_plots/*.png``.

    Parameters
    ----------
    results_dir : Path or sequence of Path
        Results store folder(s) and / or shipped ``.jsonl`` row files (combined).
    out_dir : Path
        Output folder.
    name : str
        Base name of the files.
    metrics : sequence of str
        Metrics shown; the first ranks and is tested.
    command : str, optional
        The command that regenerates the files (shown in the provenance).
    protocols, datasets : sequence of str, optional
        Restrict to these protocols / datasets.
    test : {"wilcoxon", "permutation"}
        Paired test across subjects.
    plots : bool
        Also draw the plots.
    probes : {"include", "exclude", "only"}
        Layer-wise probe rows: keep, drop, or keep only them (see :func:`filter_frame`).
    families : sequence of str, optional
        Restrict to these model families (``classical``, ``specialist``, ``foundation``).
    kind : {"all", "classification", "regression"}
        Which tasks' rows: regression rows (a numeric target) get their own tables
        (:mod:`eegbench.leaderboard.regression`); with ``all`` and both kinds present they
        follow the classification tables and their CSVs are ``<name>_regression.csv`` and
        ``<name>_regression_per_subject.csv``.

    Returns
    -------
    dict
        Kind ("md", "csv", "per_subject", "html", "plots") -> path.

    Raises
    ------
    FileNotFoundError
        If the store has no rows (after filtering).
    """
    if kind not in KINDS:
        raise ValueError(f"Invalid value for the 'kind' parameter. Allowed values are "
                         f"{list(KINDS)}, but got {kind!r}.")
    frame = filter_frame(load_frame(results_dir), protocols, datasets, probes, families)
    frame = drop_superseded(frame)
    regression = is_regression(frame)
    reg = frame[regression] if kind != "classification" else frame.iloc[:0]
    frame = frame[~regression] if kind != "regression" else frame.iloc[:0]
    if frame.empty and reg.empty:
        raise FileNotFoundError(f"No result rows in {results_dir} (protocols "
                                f"{protocols or 'all'}, datasets {datasets or 'all'}, "
                                f"{kind} tasks): run `eegbench +exp=loso` first.")
    if frame.empty:
        return _build_regression(prepare(reg), Path(out_dir), name, command, test,
                                 results_dir, plots)
    frame = prepare(frame)
    metrics = list(metrics)
    summary = summarize(frame, metrics, test=test)
    ranks = aggregate_ranks(summary, frame)
    versions = data_versions_of(results_dir)
    provenance = block_provenance(frame, versions)
    extra = _regression_extra(prepare(reg), test, versions) if not reg.empty else None
    _staged(out_dir, name, lambda staging: _write_files(
        staging, frame, summary, ranks, provenance, metrics, name, command, test, plots,
        results_dir, versions, extra))
    final = _output_paths(out_dir, name)
    logger.info("wrote %s, %s, %s and the plots", final["md"], final["csv"], final["html"])
    return final


def _output_paths(out_dir: Path, name: str) -> dict[str, Path]:
    """The files a leaderboard ``name`` writes in ``out_dir``."""
    return {"md": out_dir / f"{name}.md", "csv": out_dir / f"{name}.csv",
            "per_subject": out_dir / f"{name}_per_subject.csv",
            "html": out_dir / f"{name}.html", "plots": out_dir / f"{name}_plots"}


def _staged(out_dir: Path, name: str, write) -> None:
    """Write files with ``write(staging)`` into a staging folder, then swap them into place."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if finish_swap(out_dir, name):
        logger.warning("finished moving in the leaderboard %s of an interrupted build", name)
    for stale in out_dir.glob(f".{name}.staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.staging-", dir=out_dir))
    try:
        write(staging)
        staging.chmod(0o755)
        for path in staging.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        os.replace(staging, _ready_dir(out_dir, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    finish_swap(out_dir, name)


def _regression_extra(reg: pd.DataFrame, test: str,
                      versions: DataVersions | None = None) -> dict:
    """The regression tables of a build that also has classification rows."""
    summary, subjects = regression_summarize(reg, test=test)
    return {"summary": summary, "subjects": subjects,
            "markdown": regression_markdown(summary, block_provenance(reg, versions)),
            "warnings": comparability_warnings(reg, versions)}


def _build_regression(frame: pd.DataFrame, out_dir: Path, name: str, command: str | None,
                      test: str, results_dir: Path, plots: bool = True) -> dict[str, Path]:
    """Write the files of a leaderboard whose rows are all regression rows."""
    extra = _regression_extra(frame, test, data_versions_of(results_dir))
    sources = [results_dir] if isinstance(results_dir, str | Path) else list(results_dir)
    footer = [f"rows: {len(frame)} from {', '.join(str(s) for s in sources)}",
              f"regenerate: {command or 'python -m eegbench.leaderboard'}"]
    notes = [REGRESSION_NOTES.replace("<name>", name), *extra["warnings"]]

    def write(staging: Path) -> None:
        plot_lines: list[str] = []
        if plots:
            from eegbench.leaderboard.regression_plots import predicted_vs_target

            written = predicted_vs_target(extra["subjects"], staging / f"{name}_plots")
            rel = [str(p.relative_to(staging)) for p in written]
            plot_lines = ["## Plots", "", *[md_text(f"![{p}]({p})") for p in rel], ""]
        lines = [md_heading(1, f"eegbench leaderboard: {name}"), "", *map(md_text, notes), "",
                 *extra["markdown"], *plot_lines, "## Provenance", "",
                 *[md_text(f"- {f}") for f in footer], ""]
        extra["summary"].to_csv(staging / f"{name}.csv", index=False)
        extra["subjects"].to_csv(staging / f"{name}_per_subject.csv", index=False)
        (staging / f"{name}.md").write_text("\n".join(lines))
        (staging / f"{name}.html").write_text(
            render_markdown_page(f"eegbench leaderboard: {name}", lines))

    _staged(out_dir, name, write)
    final = _output_paths(out_dir, name)
    logger.info("wrote %s, %s and %s", final["md"], final["csv"], final["html"])
    return final


def comparability_warnings(frame: pd.DataFrame,
                           versions: DataVersions | None = None) -> list[str]:
    """Return a warning per table whose configurations were not computed on the same data.

    Within one table (dataset, task, protocol, shots), every configuration should be tested
    on the same subjects and the same data (``data_fingerprint``; rows without one are not
    compared). Fingerprints are first mapped through ``versions`` (old fingerprints verified
    to name the same windows compare equal, :mod:`eegbench.leaderboard.data_versions`); the
    warning names the fingerprints that differ and the ones with no verified equivalence. A
    merged store can break this silently (e.g. a 6-subject run beside 36-subject rows): the
    table then says so, and why.
    """
    versions = versions or DataVersions()
    out = []
    for key, block in frame.groupby(BLOCK_COLUMNS, sort=True):
        per_config = block.groupby("config_hash")
        subjects = {h: frozenset(b["test_subject"].astype(str)) for h, b in per_config}
        if len(set(subjects.values())) > 1:
            sizes = sorted({len(s) for s in subjects.values()})
            out.append(f"WARNING ({' / '.join(str(k) for k in key)}): the configurations were "
                       f"tested on different subject sets (sizes {sizes}); their paired tests "
                       "use the common subjects only, and their means are not comparable.")
        if "data_fingerprint" in block:
            warning = _data_version_warning(block, versions)
            if warning:
                out.append(f"WARNING ({' / '.join(str(k) for k in key)}): {warning}")
    return out


def _data_version_warning(block: pd.DataFrame, versions: DataVersions) -> str | None:
    """Say which data versions a table's rows come from, if more than one (else None)."""
    known = block["data_fingerprint"].notna()
    raw = block.loc[known, "data_fingerprint"].astype(str)
    canonical = versions.canonical_column(block[known])
    groups: dict[str, set[str]] = {}
    for fingerprint, version in zip(raw, canonical, strict=True):
        groups.setdefault(version, set()).add(fingerprint)
    if len(groups) < 2:
        return None
    shown = "; ".join(" = ".join(sorted(p, key=lambda f: (f != v, f)))
                      for v, p in sorted(groups.items()))
    dataset, task = str(block["dataset"].iloc[0]), str(block["task"].iloc[0])
    unverified = sorted(f for f in set(raw) if not versions.is_verified(dataset, task, f))
    return (f"rows come from {len(groups)} different data versions (data fingerprints {shown}"
            + ("; '=' joins fingerprints verified to name identical windows"
               if any(len(p) > 1 for p in groups.values()) else "")
            + "); "
            + (f"{', '.join(unverified)} {'is' if len(unverified) == 1 else 'are'} not "
               f"verified identical to another version (no entry in {DATA_VERSIONS_NAME})"
               if unverified else f"their windows differ ({DATA_VERSIONS_NAME})")
            + "; compare them with care.")


def _write_files(out_dir: Path, frame: pd.DataFrame, summary: pd.DataFrame,
                 ranks: pd.DataFrame, provenance: dict[tuple, str], metrics: list[str],
                 name: str, command: str | None, test: str, plots: bool,
                 results_dir: Path, versions: DataVersions | None = None,
                 regression: dict | None = None) -> None:
    """Write every leaderboard file of ``name`` into ``out_dir`` (a staging folder).

    ``regression``: the regression tables of the same build (:func:`_regression_extra`),
    appended after the classification ones, with their own CSVs.
    """
    paths = _output_paths(out_dir, name)
    summary.to_csv(paths["csv"], index=False)  # repr floats: the p-values recompute exactly
    tested = [metrics[0], *sorted(set(primary_metrics(frame).values()))]
    per_subject = per_subject_table(frame, tested)
    per_subject.to_csv(paths["per_subject"], index=False)  # repr floats: full precision
    plot_paths = []
    if plots:
        from eegbench.leaderboard.plots import make_plots

        plot_paths = [str(p.relative_to(out_dir))
                      for p in make_plots(frame, summary, metrics[0], paths["plots"])]
    notes = [f"Scores are mean ± sample standard deviation (ddof = 1; the run log uses the same) "
             f"over test subjects; each subject's score is first averaged "
             f"over seeds and few-shot draws. 'p (Holm)': paired two-sided {test} test across "
             "subjects of the table's primary metric (declared in the dataset recipe: ROC AUC "
             "for binary ERP, else balanced accuracy) against the best configuration of the "
             "table that uses the test data the same way (inductive rows against the best "
             "inductive row), Holm-corrected within that group "
             f"({WILCOXON_DESCRIPTION}); * = worse than the best at 0.05. Rank = rank by mean "
             "primary metric within the same group. "
             "'primary: 95% CI': percentile bootstrap of the mean over subjects. "
             "'p vs chance (subjects)': one-sided sign-flip permutation test across subjects "
             "of each subject's primary score minus chance (0.5 for ROC AUC, 1 / classes for "
             "balanced accuracy; exact when 2^subjects <= 10000, else 10000 random sign "
             "patterns, seed 0); 'NOT above chance' when p >= 0.05. 'p vs chance (windows, "
             "fixed effects)': labels permuted within each test fold (1000 permutations): "
             "whether these subjects' predictions carry label information, not a test of "
             "generalisation to new subjects; '< 0.001' = no permutation reached the "
             "observed score. 'uses test data': 'none' = inductive; 'unlabeled test windows' "
             "= the test subject's windows (never labels) were used before scoring (e.g. the "
             "alignment reference of protocol.align); such rows are compared only with rows "
             "that use test data the same way. Every p-value except the window-level one is "
             f"recomputed from {name}_per_subject.csv (full precision) by the test suite."]
    notes += comparability_warnings(frame, versions)
    sources = [results_dir] if isinstance(results_dir, str | Path) else list(results_dir)
    footer = [f"rows: {len(frame)} from {', '.join(str(s) for s in sources)}",
              f"regenerate: {command or 'python -m eegbench.leaderboard'}"]
    text = [md_heading(1, f"eegbench leaderboard: {name}"), "", *map(md_text, notes), "",
            to_markdown(summary, metrics, provenance)]
    if len(ranks):
        text += ["## Mean rank across datasets", "", RANKS_CAPTION, "",
                 ranks_to_markdown(ranks)]
    from eegbench.leaderboard.sections import extra_sections, foundation_table

    sections = extra_sections(frame, summary, primary_metrics(frame))
    text += sections
    foundation = foundation_table(frame, summary, primary_metrics(frame))
    if len(foundation):  # machine-readable comparisons: the site's verdict reads them
        foundation.to_csv(out_dir / f"{name}{FOUNDATION_SUFFIX}", index=False)
    if regression is not None:
        regression["summary"].to_csv(out_dir / f"{name}_regression.csv", index=False)
        regression["subjects"].to_csv(out_dir / f"{name}_regression_per_subject.csv",
                                      index=False)
        section = ["## Regression tasks", "",
                   md_text(REGRESSION_NOTES.replace("<name>_per_subject",
                                                    f"{name}_regression_per_subject")),
                   "", *map(md_text, regression["warnings"]), *regression["markdown"]]
        text += section
        sections = [*sections, *section]
    if plot_paths:
        text += ["## Plots", ""] + [md_text(f"![{p}]({p})") for p in plot_paths] + [""]
    text += ["## Provenance", "", *[md_text(f"- {f}") for f in footer], ""]
    paths["md"].write_text("\n".join(text))
    paths["html"].write_text(render_html(f"eegbench leaderboard: {name}", summary, metrics,
                                         provenance, ranks, plot_paths, notes, footer,
                                         sections))
