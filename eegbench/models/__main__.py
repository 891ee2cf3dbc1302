"""``python -m eegbench.models {list,checkpoints,readme}``: what models and weights exist.

- ``list``: every eegbench model and every braindecode model (usable as
  ``model=braindecode model.params.arch=<Name>``) with family, modality, parameter count at
  braindecode's reference input and, for models that cannot run here, the reason.
- ``checkpoints``: the known pretrained checkpoints (``known:<name>``): model, source, size,
  licence (with what it allows), pin status, whether the file is in the local hub cache and
  the input contract applied when it is loaded.
- ``readme [--file README.md]``: rewrite the README's generated model table (between the
  ``<!-- zoo-table:start -->`` and ``<!-- zoo-table:end -->`` markers) from the registry.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

START, END = "<!-- zoo-table:start -->", "<!-- zoo-table:end -->"


def _fmt_params(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} k"


def zoo_table() -> str:
    """Return the Markdown table of every braindecode model (generated, not hand-written)."""
    from eegbench.models.braindecode_zoo import (
        REQUIREMENTS,
        TOO_LARGE_FOR_CPU_TESTS,
        catalogue,
    )

    lines = ["| braindecode model | family | modality | parameters (reference input) | "
             "status |", "|---|---|---|---|---|"]
    for e in catalogue():
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
    from eegbench.models.known_checkpoints import known_checkpoints

    entries = list(known_checkpoints().values())
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


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m eegbench.models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every model, with why it cannot run when it cannot")
    sub.add_parser("checkpoints", help="the known pretrained checkpoints")
    readme = sub.add_parser("readme", help="rewrite the README's generated model table")
    readme.add_argument("--file", type=Path, default=Path("README.md"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import mne

    mne.set_log_level("WARNING")  # braindecode's interpolated models print MNE info lines
    if args.command == "list":
        from eegbench.models.base import MODELS, build_model, load_builtin_models

        load_builtin_models()
        lines = ["| eegbench model | family |", "|---|---|"]
        for name in [n for n in MODELS.names() if not n.startswith("braindecode.")]:
            family = "braindecode (any, by arch)" if name == "braindecode" else getattr(
                build_model(name), "family", "?")
            lines.append(f"| `{name}` | {family} |")
        sys.stdout.write("\n".join(lines) + "\n\n" + zoo_table() + "\n")
    elif args.command == "checkpoints":
        sys.stdout.write(checkpoint_table() + "\n")
    else:
        changed = rewrite_readme(args.file)
        sys.stdout.write(f"{args.file}: {'rewritten' if changed else 'already up to date'}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
