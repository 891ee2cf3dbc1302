"""Edge cases of the one atomic entry build (eegbench.atomic) on small synthetic folders."""

from __future__ import annotations

import json
import logging

from eegbench import atomic


def _writer(calls: list[int], payload: bytes = b"data"):
    def write(tmp):
        calls.append(1)
        (tmp / "a.bin").write_bytes(payload)
        return {"what": "test"}, ["a.bin"]
    return write


def _problem(secret=None):
    return lambda entry: atomic.entry_problem(entry, secret=secret)


def test_build_once_then_read_back(tmp_path):
    entry, calls = tmp_path / "k1", []
    assert atomic.build_entry(entry, _writer(calls), _problem())
    manifest = atomic.read_manifest(entry)
    assert manifest["file_bytes"] == {"a.bin": 4} and manifest["what"] == "test"
    assert atomic.entry_problem(entry) is None
    assert not atomic.build_entry(entry, _writer(calls), _problem())  # valid: not rebuilt
    assert calls == [1]
    assert not list(tmp_path.glob(".k1.*"))  # no temporary folder left


def test_edited_manifest_corrupt_bytes_and_signature(tmp_path, caplog):
    entry, calls = tmp_path / "k2", []
    atomic.build_entry(entry, _writer(calls), _problem(b"s"), secret=b"s")
    assert atomic.entry_problem(entry, secret=b"s") is None
    assert "not signed" in atomic.entry_problem(entry, secret=b"other")
    manifest = atomic.read_manifest(entry)
    manifest["what"] = "edited"
    (entry / "manifest.json").write_text(json.dumps(manifest))
    assert "was modified" in atomic.entry_problem(entry)
    manifest["manifest_sha256"] = atomic.manifest_digest(manifest)  # re-checksummed by hand
    (entry / "manifest.json").write_text(json.dumps(manifest))
    assert atomic.entry_problem(entry) is None
    assert "not signed" in atomic.entry_problem(entry, secret=b"s")
    (entry / "a.bin").write_bytes(b"dat!")
    assert "sha256 differs" in atomic.entry_problem(entry)
    assert atomic.entry_problem(entry, verify="size") is None
    with caplog.at_level(logging.WARNING, logger="eegbench.atomic"):
        assert atomic.build_entry(entry, _writer(calls), _problem(b"s"), secret=b"s")
    assert "rebuilding" in caplog.text and atomic.entry_problem(entry, secret=b"s") is None


def test_a_killed_build_leaves_nothing_in_place(tmp_path):
    entry = tmp_path / "k3"

    def crash(tmp):
        (tmp / "a.bin").write_bytes(b"half")
        raise KeyboardInterrupt

    try:
        atomic.build_entry(entry, crash, _problem())
    except KeyboardInterrupt:
        pass
    assert not entry.exists() and not list(tmp_path.glob(".k3.*"))
    stale = tmp_path / ".k3.leftover"  # as left by a process killed with SIGKILL
    stale.mkdir()
    assert atomic.build_entry(entry, _writer([]), _problem())
    assert not stale.exists() and atomic.entry_problem(entry) is None
