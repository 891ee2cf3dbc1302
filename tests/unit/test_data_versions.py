"""Verified data-version equivalences: identical windows never warn, unverified ones still do."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
import yaml

from eegbench.leaderboard.data_versions import (
    DATA_VERSIONS_NAME,
    DataVersions,
    DataVersionsError,
    data_versions_of,
    load_data_versions,
    parse_data_versions,
)
from eegbench.leaderboard.report import block_provenance, comparability_warnings
from eegbench.leaderboard.tables import BLOCK_COLUMNS, prepare
from eegbench.results.shipped import load_frame

REPO = Path(__file__).resolve().parents[2]
ROWS = REPO / "leaderboard" / "rows.jsonl"
SHIPPED_VERSIONS = REPO / "leaderboard" / DATA_VERSIONS_NAME


@pytest.fixture(scope="module")
def shipped():
    """The shipped rows (as the leaderboard reads them) and their shipped equivalences."""
    return prepare(load_frame(ROWS)), data_versions_of(ROWS)


def _reconciled_blocks(frame, versions):
    """Tables whose rows carry several raw fingerprints that all name one verified version."""
    out = []
    for key, block in frame.groupby(BLOCK_COLUMNS, sort=True):
        raw = set(block["data_fingerprint"].dropna().astype(str))
        if len(raw) > 1 and len(set(versions.canonical_column(block).dropna())) == 1:
            out.append((key, block, raw))
    return out


def _data_warnings(frame, versions):
    return [w for w in comparability_warnings(frame, versions) if "data versions" in w]


def test_verified_equivalences_remove_the_warning_and_unlisted_ones_keep_it(shipped):
    frame, versions = shipped
    assert versions.sources == (str(SHIPPED_VERSIONS),)
    blocks = _reconciled_blocks(frame, versions)
    assert blocks, "no table of the shipped rows mixes fingerprints the shipped file reconciles"
    eegmat = [b for k, b, raw in blocks if k[0] == "physionet_eegmat" and k[2] == "loso"]
    assert eegmat and eegmat[0]["schema_version"].nunique() > 1  # schema-4 and schema-5 rows
    for key, block, raw in blocks:
        where = " / ".join(str(k) for k in key)
        # listed -> the table's rows are one data version: no warning, one version shown
        assert not [w for w in _data_warnings(block, versions) if where in w]
        (version,) = set(versions.canonical_column(block))
        assert f"data {version};" in block_provenance(block, versions)[key]
        # without the file, the same rows warn, naming every fingerprint as unverified
        (warning,) = _data_warnings(block, DataVersions())
        assert where in warning and f"{len(raw)} different data versions" in warning
        assert all(fp in warning for fp in raw) and "not verified" in warning
        # one equivalence left out -> that fingerprint (only) is an unverified version
        dropped = sorted(raw - {version})[0]
        partial = DataVersions({k: v for k, v in versions.equivalences.items()
                                if not (k[:2] == key[:2] and k[2] == dropped)})
        (warning,) = _data_warnings(block, partial)
        assert f"{dropped} is not verified identical" in warning
        assert "2 different data versions" in warning


def test_a_different_fingerprint_beside_verified_ones_still_warns(shipped):
    frame, versions = shipped
    _, block, raw = _reconciled_blocks(frame, versions)[0]
    changed = block.copy()
    changed.loc[changed.index[0], "data_fingerprint"] = "f" * 24  # windows never verified
    (warning,) = _data_warnings(changed, versions)
    assert "ffffffffffffffffffffffff is not verified identical" in warning
    assert " = " in warning  # the verified fingerprints are shown as one version


def test_every_equivalence_names_a_fingerprint_of_the_shipped_rows():
    """No stale entry: each old fingerprint is carried by shipped rows of its dataset / task."""
    rows = [json.loads(line) for line in ROWS.read_text().splitlines() if line.strip()]
    carried = collections.defaultdict(set)
    for row in rows:
        if row.get("data_fingerprint"):
            carried[(row["dataset"], row["task"])].add(row["data_fingerprint"])
    versions = load_data_versions(SHIPPED_VERSIONS)
    assert versions.equivalences
    for (dataset, task, old), content in versions.equivalences.items():
        assert old in carried[(dataset, task)], f"{dataset} / {task}: stale entry {old}"
        assert content != old


def test_each_entry_was_verified_by_a_recorded_command_at_a_recorded_revision():
    raw = yaml.safe_load(SHIPPED_VERSIONS.read_text())
    for entry in raw["data_versions"]:
        for item in entry["fingerprints"]:
            assert "benchmarks/verify_data_versions.py" in item["command"]
            assert item["revision"] in item["rows_revisions"]


GOOD = {"version": 1, "data_versions": [{
    "dataset": "d", "task": "t", "fingerprints": [{
        "old": "012d29ad85140d4c80089720", "content": "2314fc70b2e1999055147118",
        "revision": "3df7e24d855112be37122882cd92d7a1fabf7b04", "checked": "2026-12-02",
        "command": "python benchmarks/verify_data_versions.py"}]}]}


def _with(path, value):
    raw = json.loads(json.dumps(GOOD))
    *parents, last = path
    node = raw
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return raw


@pytest.mark.parametrize("path, value, message", [
    (["version"], 2, "key 'version': expected 1, got 2"),
    (["data_versions"], {"d": 1}, "key 'data_versions': expected a list"),
    (["data_versions", 0, "task"], KeyError, "key 'task': expected a task name"),
    (["data_versions", 0, "fingerprints"], [], "key 'fingerprints': expected a non-empty"),
    (["data_versions", 0, "fingerprints", 0, "content"], KeyError, "missing key 'content'"),
    (["data_versions", 0, "fingerprints", 0, "revision"], "3df7e24",
     "key 'revision': expected a 40-hex git revision, got '3df7e24'"),
    (["data_versions", 0, "fingerprints", 0, "checked"], "yesterday",
     "key 'checked': expected a date"),
    (["data_versions", 0, "fingerprints", 0, "verified_by"], "me", "unknown key(s)"),
    (["data_versions", 0, "fingerprints", 0, "windows"], -3,
     "key 'windows': expected a positive count, got -3"),
])
def test_a_malformed_file_names_the_key_and_what_was_expected(path, value, message):
    with pytest.raises(DataVersionsError, match=r"f\.yaml: data_versions\[0\]|f\.yaml: key|"
                                                r"f\.yaml: top") as err:
        parse_data_versions(_with(path, value), "f.yaml")
    assert message in str(err.value)


def test_one_old_fingerprint_with_two_contents_is_rejected():
    raw = json.loads(json.dumps(GOOD))
    raw["data_versions"][0]["fingerprints"].append(
        {**GOOD["data_versions"][0]["fingerprints"][0], "content": "a" * 24})
    with pytest.raises(DataVersionsError, match="listed with two content fingerprints"):
        parse_data_versions(raw, "f.yaml")


def test_the_file_is_read_beside_the_rows_and_invalid_yaml_says_where(tmp_path):
    rows = tmp_path / "rows.jsonl"
    assert data_versions_of(rows).equivalences == {}  # no file: no equivalence
    (tmp_path / DATA_VERSIONS_NAME).write_text(yaml.safe_dump(GOOD))
    versions = data_versions_of(rows)
    assert versions.canonical("d", "t", "012d29ad85140d4c80089720") == \
        "2314fc70b2e1999055147118"
    assert versions.canonical("d", "other", "012d29ad85140d4c80089720") == \
        "012d29ad85140d4c80089720"  # an equivalence holds for its dataset and task only
    (tmp_path / DATA_VERSIONS_NAME).write_text("version: 1\ndata_versions: [\n")
    with pytest.raises(DataVersionsError, match="not valid YAML at line"):
        data_versions_of(rows)
