"""``python -m eegbench.models {list,checkpoints,readme}``: what models and weights exist.

- ``list``: every eegbench model (plugins included) with its family and parameter count at
  the reference input (one standardized eegmat window), and every braindecode model (usable as
  ``model=braindecode model.params.arch=<Name>``) with family, modality, parameter count at
  braindecode's reference input and, for models that cannot run here, the reason. Counts come
  from :mod:`eegbench.models.parameter_table` (precomputed; plugins are counted when
  listed).
- ``counts [--write]``: recompute every parameter count (minutes) and print or rewrite the
  precomputed table.
- ``checkpoints``: the known pretrained checkpoints (``known:<name>``): model, source, size,
  licence (with what it allows), pin status, whether the file is in the local hub cache and
  the input contract applied when it is loaded.
- ``readme [--file README.md]``: rewrite the README's generated model table (between the
  ``<!-- zoo-table:start -->`` and ``<!-- zoo-table:end -->`` markers) from the registry.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from importlib.metadata import entry_points
from pathlib import Path

from eegbench.models.base import MODELS, load_builtin_models
from eegbench.models.parameter_table import (
    eegbench_markdown,
    load_table,
    torchaudio_importable,
    zoo_markdown,
)
from eegbench.models.weights import known

START, END = "<!-- zoo-table:start -->", "<!-- zoo-table:end -->"


#: Library warnings that importing braindecode's model classes prints (deprecated MNE montage
#: names, torchaudio stubs, sampling-rate notes) and that say nothing about the listing.
_LIBRARY_WARNINGS = r"(braindecode|torchaudio|torch|mne|moabb)(\..*)?$"


def quiet_library_warnings() -> None:
    """Ignore the warnings third-party libraries emit while their models are imported."""
    for category in (FutureWarning, UserWarning, RuntimeWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=_LIBRARY_WARNINGS)


def zoo_table() -> str:
    """Return the Markdown table of every braindecode model (the README's and the docs').

    From the precomputed table when it was made with the installed versions, else counted
    here (minutes).
    """
    table = load_table()
    if table is not None:
        return zoo_markdown(table["braindecode"], torchaudio_importable())
    from eegbench.models.braindecode_catalogue import (
        catalogue_entries,  # imports torch and braindecode
    )

    return zoo_markdown(catalogue_entries())


#: How each pin status reads in the checkpoints table.
PIN_LABELS = {"sha256": "content (sha256)", "revision": "revision (commit)",
              "none": "not pinned (needs allow_unpinned)"}


def _contract_label(contract: dict | None) -> str:
    if not contract:
        return "model default"
    return ", ".join(f"{k} {v}" for k, v in contract.items())


def checkpoint_table() -> str:
    """Return the Markdown table of the known-checkpoints registry, then the licence notes.

    Columns: name, model, repository / file, size, licence, pin status, sha256, whether the
    file is in the local hub cache (no network request) and the input contract applied when
    it is loaded.
    """
    entries = list(known.known_checkpoints().values())
    lines = ["| name | model | repository / file | size | licence | pinned by | sha256 | "
             "in local cache | input contract |", "|---|---|---|---|---|---|---|---|---|"]
    for e in entries:
        cached = e.cached_path()
        lines.append(
            f"| `known:{e.name}` | {e.model} | {e.repo_id} / {e.filename or '? (unknown)'} | "
            f"{e.size or '?'} | {e.licence or '? (unknown)'} | {PIN_LABELS[e.pinned_by]} | "
            f"{(e.sha256 or '?')[:12]} | {'yes' if cached else 'no'} | "
            f"{_contract_label(e.contract)} |")
    notes = [f"- `known:{e.name}` ({e.licence or 'licence unknown'}): {e.licence_note}"
             + ("" if e.share_adapters else " eegbench never writes weights adapted from it "
                "into a shareable submission bundle.")
             for e in entries if e.licence_note or not e.share_adapters]
    return "\n".join(lines + ([""] + ["Licences:"] + notes if notes else []))


def rewrite_readme(path: Path) -> bool:
    """Replace the marked section of ``path`` with :func:`zoo_table`; True if it changed."""
    text = path.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{path} has no '{START}' ... '{END}' section to rewrite.")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{zoo_table()}\n{END}{tail}"
    if new != text:
        path.write_text(new)
    return new != text


def plugin_rows() -> list[tuple[str, str, int | None]]:
    """``(label, family, parameters)`` of every plugin model, counted here (imports torch)."""
    from eegbench.models.parameter_counts import count_model  # builds models (torch)

    load_builtin_models()
    rows = []
    for name in MODELS.names():
        dist = MODELS.distribution(name)
        if dist is not None:
            family, n_params = count_model(name)
            rows.append((f"`{name}` [third-party: {dist}]", family, n_params))
    return rows


def model_table() -> str:
    """Return the Markdown tables of every eegbench model (plugins too) and braindecode model.

    Read from the precomputed table (:mod:`eegbench.models.parameter_table`) without
    importing torch; plugins, or a table made with other torch / braindecode versions, are
    counted here.
    """
    table = load_table()
    if table is None:  # other versions: count everything (minutes)
        from eegbench.models.parameter_counts import compute_table  # builds models (torch)

        table = compute_table()
    rows = [(f"`{name}`", e["family"], e["n_parameters"])
            for name, e in sorted(table["eegbench"].items())]
    if any(True for _ in entry_points(group="eegbench.models")):
        rows += plugin_rows()
    return (eegbench_markdown(rows) + "\n\n"
            + zoo_markdown(table["braindecode"], torchaudio_importable()) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="eegbench models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every model, with why it cannot run when it cannot")
    sub.add_parser("checkpoints", help="the known pretrained checkpoints")
    counts = sub.add_parser("counts", help="recompute every parameter count (minutes)")
    counts.add_argument("--write", action="store_true",
                        help="rewrite the precomputed table instead of printing it")
    readme = sub.add_parser("readme", help="rewrite the README's generated model table")
    readme.add_argument("--file", type=Path, default=Path("README.md"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    quiet_library_warnings()
    if args.command == "list":
        sys.stdout.write(model_table())
    elif args.command == "counts":
        from eegbench.models.parameter_counts import (  # builds models (torch)
            compute_table,
            write_table,
        )

        if args.write:
            sys.stdout.write(f"{write_table()}: rewritten\n")
        else:
            sys.stdout.write(json.dumps(compute_table(), indent=1, sort_keys=True) + "\n")
    elif args.command == "checkpoints":
        sys.stdout.write(checkpoint_table() + "\n")
    else:
        import mne  # heavy: only for this subcommand

        mne.set_log_level("WARNING")  # braindecode's interpolated models print MNE info lines
        changed = rewrite_readme(args.file)
        sys.stdout.write(f"{args.file}: {'rewritten' if changed else 'already up to date'}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
