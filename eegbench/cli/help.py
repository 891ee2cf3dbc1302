"""The text of ``eegbench --help``: commands, examples, config groups and every model.

Built from the shipped configuration folder and the plugins' entry points only (no torch,
braindecode or MNE import), so the help prints in well under a second. The commands and what
they do are :data:`eegbench.cli.main.COMMAND_HELP`.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path

import yaml

from eegbench.resources import config_dir

#: Example command lines with what they do.
EXAMPLES = (
    ("eegbench +exp=loso",
     "ts_lr and EEGNet, leave-one-subject-out on PhysioNet eegmat -> runs/loso/results"),
    ("eegbench leaderboard --exp loso",
     "its tables and plots -> runs/loso/leaderboard/"),
    ("eegbench model=eegnet trainer=fast 'dataset.subjects=[00,01,02,03]'",
     "a quick run on 4 subjects -> runs/default/results"),
    ("eegbench model=ts_lr dataset=ssvep_exo_kalunga2016 protocol=blocked_kfold",
     "another dataset and protocol"),
    ("eegbench -m model=ts_lr,fb_ts_lr 'seeds=[0,1]'", "a Hydra sweep (multirun)"),
    ("eegbench pretrain +exp=pretrain_pooled",
     "pretrain CBraMod on every shared dataset but eegmat"),
    ("eegbench study +exp=objective_study", "compare self-supervised objectives"),
    ("eegbench data list", "the datasets, their files and cache state"),
    ("eegbench models list", "every model, its family and parameter count"),
    ("eegbench +exp=loso --cfg job", "print the composed configuration, run nothing"),
)

#: One line per configuration group (conf/<group>/).
GROUP_HELP = {
    "exp": "an experiment: a delta over the groups below with its own results store "
           "(+exp=<name>)",
    "dataset": "recordings and task: a recipe of data_recipes/ or a MOABB dataset; "
               "dataset.subjects=[...] picks subjects",
    "preprocess": "standardization: resampling, band-pass, notch, reference (MNE or fused "
                  "torch)",
    "model": "the model: model.params.<p>, model.adaptation (from_scratch, linear_probe, "
             "finetune, lp_ft, PEFT), model.recipe",
    "protocol": "how folds are drawn: across subjects, few-shot, within subject, fixed split",
    "trainer": "optimisation overrides for deep models (epochs, lr, batch, early stopping, "
               "device)",
    "paths": "data root, cache, runs and results folders (EEGBENCH_DATA_ROOT, "
             "EEGBENCH_CACHE_DIR, EEGBENCH_RUNS_DIR)",
    "audit": "leakage audit: leaky variants of the protocol beside the clean one "
             "(+audit=leakage)",
    "submission": "the official configurations a leaderboard submission runs",
    "hydra/launcher": "where a sweep's jobs run: hydra/launcher=local_processes or slurm",
}

#: Keys at the top level of the configuration.
TOP_LEVEL_HELP = (
    ("seeds=[0,1,2]", "every configuration runs once per seed (a non-empty list of integers)"),
    ("experiment.name=<name>", "the results store runs/<name>/results (default: the exp's "
                               "name, else 'default')"),
    ("log_level=DEBUG", "logging level of the eegbench logger"),
    ("+feature_cache=false", "recompute fold-invariant features instead of caching them"),
    ("+hp_search.grid.C=[0.1,1]", "nested selection of model parameters on training subjects"),
)


def _width() -> int:
    return max(72, min(110, shutil.get_terminal_size((100, 24)).columns))


def yaml_description(path: Path) -> str:
    """The first sentence of a config yaml's header comment (its one-line description)."""
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text.startswith("#"):
            break
        text = text.lstrip("#").strip()
        if text.startswith("@package"):
            continue
        if not text or text.startswith(("python ", "eegbench ")):
            break  # the header's first paragraph ends at a blank line or a command example
        words.append(text)
    header = " ".join(words)
    end = re.search(r"[.?!](\s+(?=[A-Z])|$)", header)  # not "et al. 2023"
    return header[: end.end()].strip() if end else header


def _options(group: str) -> list[Path]:
    return sorted((config_dir() / group).glob("*.yaml"))


def builtin_models() -> list[tuple[str, str]]:
    """``(model name, description)`` of every conf/model yaml that names a model."""
    out = []
    for path in _options("model"):
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        name = spec.get("name")
        if isinstance(name, str) and name != "???":  # plugin.yaml is the template
            out.append((path.stem, yaml_description(path)))
    return out


def plugin_models() -> list[tuple[str, str]]:
    """``(model name, "[third-party: <distribution> <version>]")`` of every plugin model."""
    out = []
    for ep in entry_points(group="eegbench.models"):
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "unknown distribution"
        out.append((ep.name, f"[third-party: {dist}] ({ep.value})"))
    return sorted(out)


def _rows(rows: list[tuple[str, str]], indent: int = 2, column: int | None = None,
          max_lines: int = 2) -> list[str]:
    """Two-column rows: the right text wrapped under itself (at most ``max_lines`` lines)."""
    width = _width()
    if column is None:
        column = min(max((len(a) for a, _ in rows), default=0) + 2, 32)
    lines = []
    for left, right in rows:
        head = " " * indent + left.ljust(column)
        if len(head) > indent + column:  # a long left cell: the text starts on the next line
            lines.append(head.rstrip())
            head = " " * (indent + column)
        wrapped = textwrap.wrap(right, width, initial_indent=head,
                                subsequent_indent=" " * (indent + column),
                                max_lines=max_lines, placeholder=" ...")
        lines += wrapped or [head.rstrip()]
    return lines


def help_text(commands: Mapping[str, str]) -> str:
    """Return the full ``eegbench --help`` text (``commands``: name -> what it does)."""
    width = _width()
    lines = [
        "eegbench: an EEG / ERP / MEG benchmark of classical pipelines, specialist networks and",
        "foundation models, on real public recordings with subject-level protocols, pinned",
        "data (sha256) and one result row per fold, resumed on re-runs.",
        "",
        "Usage: eegbench [COMMAND] [OVERRIDES ...]      (python -m eegbench works the same)",
        "",
        "Commands:",
        *_rows(list(commands.items())),
        "",
        "Examples:",
        *[line for cmd, what in EXAMPLES for line in (f"  {cmd}", f"      {what}")],
        "",
        "Overrides are Hydra's: group=option picks an option, group.key=value sets a key,",
        "+group.key=value adds one. Every key is validated before any data is loaded (an",
        "unknown key or a wrong type is an error naming the allowed keys).",
        "",
        "Config groups (group=option):",
    ]
    column = max(len(g) for g in GROUP_HELP) + 2
    for group, text in GROUP_HELP.items():
        options = [p.stem for p in _options(group)]
        lines += _rows([(group, text)], column=column)
        if options and group not in ("exp", "model"):
            lines += textwrap.wrap("options: " + ", ".join(options), width,
                                   initial_indent=" " * (2 + column),
                                   subsequent_indent=" " * (2 + column + 9))
    lines += ["", "Experiments (+exp=<name>):",
              *_rows([(p.stem, yaml_description(p)) for p in _options("exp")]),
              "", "Top-level keys:", *_rows(list(TOP_LEVEL_HELP)),
              "", "Models (model=<name>; `eegbench models list` adds parameter counts):",
              *_rows(builtin_models())]
    plugins = plugin_models()
    if plugins:
        lines += ["", "Plugin models (model=plugin model.name=<name>, or model=<name> when the "
                      "plugin ships a config):", *_rows(plugins)]
    lines += ["", "Any braindecode model: model=braindecode model.params.arch=<Name>.", ""]
    for paragraph in (
            "Results: <paths.runs_dir>/<experiment.name>/results (runs/loso/results for "
            "+exp=loso, runs/default/results otherwise); tables with `eegbench leaderboard "
            "--exp <name>` (written to runs/<name>/leaderboard).",
            "More: `eegbench COMMAND --help` for leaderboard, data, models and submission; "
            "`eegbench --hydra-help` for Hydra's own options (--cfg, --multirun, ...)."):
        lines += textwrap.wrap(paragraph, width)
    return "\n".join(lines) + "\n"
