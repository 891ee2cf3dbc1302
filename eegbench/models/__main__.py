"""``python -m eegbench.models {list,checkpoints,readme}``: what models and weights exist.

- ``list``: every eegbench model (plugins included) with its family and parameter count at
  the reference input (one standardized eegmat window), and every braindecode model (usable as
  ``model=braindecode model.params.arch=<Name>``) with family, modality, parameter count at
  braindecode's reference input and, for models that cannot run here, the reason. Counts come
  from :mod:`eegbench.models.parameter_counts` (precomputed; plugins are counted when listed).
- ``counts [--write]``: recompute every parameter count (minutes) and print or rewrite the
  precomputed table.
- ``checkpoints``: the known pretrained checkpoints (``known:<name>``), pinned or not.
- ``readme [--file README.md]``: rewrite the README's generated model table (between the
  ``<!-- zoo-table:start -->`` and ``<!-- zoo-table:end -->`` markers) from the registry.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

START, END = "<!-- zoo-table:start -->", "<!-- zoo-table:end -->"


def _fmt_params(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} k"


#: Library warnings that importing braindecode's model classes prints (deprecated MNE montage
#: names, torchaudio stubs, sampling-rate notes) and that say nothing about the listing.
_LIBRARY_WARNINGS = r"(braindecode|torchaudio|torch|mne)(\..*)?$"


def quiet_library_warnings() -> None:
    """Ignore the warnings third-party libraries emit while their models are imported."""
    for category in (FutureWarning, UserWarning, RuntimeWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=_LIBRARY_WARNINGS)


def zoo_table(entries: list | None = None) -> str:
    """Return the Markdown table of every braindecode model (generated, not hand-written).

    ``entries``: the :class:`~eegbench.models.braindecode_zoo.ZooEntry` rows to show (default:
    :func:`~eegbench.models.braindecode_zoo.catalogue`, which counts every model's parameters).
    """
    from eegbench.models.braindecode_zoo import (
        REQUIREMENTS,
        TOO_LARGE_FOR_CPU_TESTS,
        catalogue,
    )

    lines = ["| braindecode model | family | modality | parameters (reference input) | "
             "status |", "|---|---|---|---|---|"]
    for e in (catalogue() if entries is None else entries):
        if e.reason:
            status = f"cannot run: {e.reason}"
        elif e.name in REQUIREMENTS:
            status = f"runs on data with {REQUIREMENTS[e.name]}"
        else:
            status = "runs"
        if e.name in TOO_LARGE_FOR_CPU_TESTS:
            status += f" (not in the CPU conformance run: {TOO_LARGE_FOR_CPU_TESTS[e.name]})"
        elif not e.reason and e.heavy:
            status += " (conformance test: slow)"
        lines.append(f"| `{e.name}` | {e.family} | {e.modality} | {_fmt_params(e.n_parameters)}"
                     f" ({e.reference_input}) | {status} |")
    return "\n".join(lines)


def checkpoint_table() -> str:
    """Return the Markdown table of the known-checkpoints registry."""
    from eegbench.models.known_checkpoints import known_checkpoints

    lines = ["| name | model | repository / file | pinned | sha256 | licence |",
             "|---|---|---|---|---|---|"]
    for e in known_checkpoints().values():
        lines.append(f"| `known:{e.name}` | {e.model} | {e.repo_id} / {e.filename or '?'} | "
                     f"{'yes' if e.pinned else 'no (' + (e.note or 'incomplete') + ')'} | "
                     f"{(e.sha256 or '?')[:12]} | {e.licence or '?'} |")
    return "\n".join(lines)


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


def model_table() -> str:
    """Return the Markdown tables of every eegbench model (plugins too) and braindecode model.

    Parameter counts come from the precomputed table
    (:mod:`eegbench.models.parameter_counts`); models it lacks (plugins) are counted here.
    """
    from eegbench.models.base import MODELS, load_builtin_models
    from eegbench.models.braindecode_zoo import catalogue, model_classes, zoo_entry
    from eegbench.models.parameter_counts import REFERENCE_INPUT, count_model, load_table

    load_builtin_models()
    table = load_table()
    known = (table or {}).get("eegbench", {})
    lines = ["| eegbench model | family | parameters (reference input) |", "|---|---|---|"]
    for name in [n for n in MODELS.names() if not n.startswith("braindecode.")]:
        if name in known:
            family, n_params = known[name]["family"], known[name]["n_parameters"]
        else:
            family, n_params = count_model(name)
        dist = MODELS.distribution(name)
        label = f"`{name}`" + (f" [third-party: {dist}]" if dist else "")
        lines.append(f"| {label} | {family} | "
                     f"{'-' if name == 'braindecode' else _fmt_params(n_params)} |")
    reference = ", ".join(f"{k}={v}" for k, v in REFERENCE_INPUT.items())
    lines += ["", f"eegbench models are counted at the reference input ({reference}: one "
              "standardized PhysioNet eegmat window).", ""]
    zoo = (table or {}).get("braindecode")
    if zoo is not None and set(zoo) == set(model_classes()):
        entries = [zoo_entry(name, zoo[name]["n_parameters"], zoo[name]["reference_input"])
                   for name in sorted(zoo, key=str.lower)]
    else:
        entries = list(catalogue())
    return "\n".join(lines) + "\n" + zoo_table(entries) + "\n"


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
    import mne

    mne.set_log_level("WARNING")  # braindecode's interpolated models print MNE info lines
    if args.command == "list":
        sys.stdout.write(model_table())
    elif args.command == "counts":
        from eegbench.models.parameter_counts import compute_table, write_table

        if args.write:
            sys.stdout.write(f"{write_table()}: rewritten\n")
        else:
            sys.stdout.write(json.dumps(compute_table(), indent=1, sort_keys=True) + "\n")
    elif args.command == "checkpoints":
        sys.stdout.write(checkpoint_table() + "\n")
    else:
        changed = rewrite_readme(args.file)
        sys.stdout.write(f"{args.file}: {'rewritten' if changed else 'already up to date'}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
