"""``python -m eegbench.data fetch`` against an HTTP server on 127.0.0.1 serving real files.

The server (started by the fixture) serves the shared recordings under their dataset folder
layout, honours HTTP Range requests, and can be told to misbehave per file: cut a transfer
short, answer 404 or 500, or serve wrong bytes. Every case must end in a clear error or a
correct, verified file, never a silently wrong one. Any connection to an address other than
127.0.0.1 fails the test.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

from eegbench.data.__main__ import main as data_cli
from eegbench.data.fetch import FetchError, fetch_dataset, plan_fetch
from eegbench.data.recipe import Recipe, load_recipe
from eegbench.hashing import sha256_of

REPO = Path(__file__).resolve().parents[2]
EEGMMIDB = "physionet_eegmmidb_imagery_lr"
R04 = "S001/S001R04.edf"


class _Mirror(BaseHTTPRequestHandler):
    """Serves ``<data_root>/<path>``; ``faults[path]`` lists the behaviour of each request."""

    data_root: Path
    faults: dict[str, list[str]]
    log_: list[tuple[str, str | None]]

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        rel = unquote(self.path.lstrip("/"))
        self.log_.append((rel, self.headers.get("Range")))
        mode = self.faults[rel].pop(0) if self.faults.get(rel) else "ok"
        path = self.data_root / rel
        if mode == "404" or not path.is_file():
            self.send_error(404)
            return
        if mode == "500":
            self.send_error(500)
            return
        if mode == "endless":  # no length, bytes until the client hangs up
            self.send_response(200)
            self.end_headers()
            block = bytes(1 << 16)
            self.close_connection = True
            try:
                while True:
                    self.wfile.write(block)
            except OSError:
                return
        body = path.read_bytes()
        if mode == "wrong":
            body = body[:1000] + bytes([body[1000] ^ 0xFF]) + body[1001:]
        start = 0
        match = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
        if match and int(match.group(1)) < len(body):
            start = int(match.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        chunk = body[start:]
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        if mode == "trickle":  # announce everything, then one byte every 0.2 s
            self.close_connection = True
            try:
                for i in range(len(chunk)):
                    self.wfile.write(chunk[i:i + 1])
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                return
            return
        if mode == "truncate":  # announce everything, send 40 %, drop the connection
            self.wfile.write(chunk[: len(chunk) * 2 // 5])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(chunk)


@pytest.fixture
def no_external_network(monkeypatch):
    """Fail the test on any connection that is not to 127.0.0.1."""
    original = socket.socket.connect

    def guarded(sock, address):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"the test tried to reach {address}")
        return original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def mirror(data_root, no_external_network):
    handler = type("Mirror", (_Mirror,), {"data_root": data_root,
                                          "faults": defaultdict(list), "log_": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _fetch(mirror_url: str, tmp_path: Path, **kw):
    recipe = load_recipe(EEGMMIDB)
    return fetch_dataset(recipe, tmp_path / "data", base_url=f"{mirror_url}/physionet_eegmmidb/",
                         backoff_s=0.01, **kw)


def _pinned(rel: str) -> str:
    return load_recipe(EEGMMIDB).source["sha256"][rel]


def test_fetch_downloads_verifies_and_skips_present_files(mirror, tmp_path):
    handler, url = mirror
    done = _fetch(url, tmp_path)
    assert len(done) == len(load_recipe(EEGMMIDB).source["sha256"])
    for path in done:
        rel = path.relative_to(tmp_path / "data" / "physionet_eegmmidb").as_posix()
        assert sha256_of(path) == _pinned(rel)
    assert not list((tmp_path / "data").rglob("*.part"))
    assert _fetch(url, tmp_path) == []  # nothing missing: nothing requested
    assert len(handler.log_) == len(done)


def test_truncated_transfer_is_resumed_with_a_range_request(mirror, tmp_path):
    handler, url = mirror
    handler.faults[f"physionet_eegmmidb/{R04}"] = ["truncate", "truncate"]
    _fetch(url, tmp_path)
    dest = tmp_path / "data" / "physionet_eegmmidb" / R04
    assert sha256_of(dest) == _pinned(R04)
    ranges = [r for rel, r in handler.log_ if rel.endswith(R04)]
    # Whole file, then resumed twice from what had arrived (each cut at 40 % of what was sent).
    assert len(ranges) == 3 and ranges[0] is None
    starts = [int(re.fullmatch(r"bytes=(\d+)-", r).group(1)) for r in ranges[1:]]
    size = dest.stat().st_size
    assert 0 < starts[0] <= size * 2 // 5 and starts[0] < starts[1] < size


def test_server_errors_are_retried(mirror, tmp_path):
    handler, url = mirror
    handler.faults[f"physionet_eegmmidb/{R04}"] = ["500", "500"]
    _fetch(url, tmp_path)
    assert sha256_of(tmp_path / "data" / "physionet_eegmmidb" / R04) == _pinned(R04)
    assert sum(rel.endswith(R04) for rel, _ in handler.log_) == 3


@pytest.mark.parametrize(("faults", "message", "requests"), [
    (["404"], r"HTTP 404", 1),
    (["500"] * 3, r"after 3 attempt\(s\): HTTP 500", 3),
    (["wrong"] * 3, r"after 3 attempt\(s\): sha256 mismatch: expected [0-9a-f]{64}, got", 3),
], ids=["not_found", "persistent_500", "wrong_bytes"])
def test_failures_are_clear_errors_and_place_nothing(mirror, tmp_path, faults, message,
                                                    requests):
    handler, url = mirror
    handler.faults[f"physionet_eegmmidb/{R04}"] = list(faults)
    with pytest.raises(FetchError, match=rf"1 of 3 file\(s\) failed:\n.*S001R04\.edf.*{message}"):
        _fetch(url, tmp_path, retries=2)
    folder = tmp_path / "data" / "physionet_eegmmidb"
    assert not (folder / R04).exists() and not list(folder.rglob("*.part"))
    assert sorted(p.name for p in folder.rglob("*.edf")) == ["S001R08.edf", "S001R12.edf"]
    assert sum(rel.endswith(R04) for rel, _ in handler.log_) == requests


def test_wrong_bytes_once_are_replaced_by_the_right_ones(mirror, tmp_path):
    handler, url = mirror
    handler.faults[f"physionet_eegmmidb/{R04}"] = ["wrong"]
    _fetch(url, tmp_path)
    assert sha256_of(tmp_path / "data" / "physionet_eegmmidb" / R04) == _pinned(R04)


def test_plan_uses_the_recipe_urls_unless_a_mirror_is_given(tmp_path):
    recipe = load_recipe("muse_n170_eegnotebooks")
    items = {i.relpath: i.url for i in plan_fetch(recipe, tmp_path)}
    history = [u for r, u in items.items() if r.startswith("history_")]
    assert len(history) == 4 and all("/d74cbd2" in u for u in history)
    assert not any("14.34.14" in r for r in items)  # excluded files are not fetched
    mirrored = plan_fetch(recipe, tmp_path, base_url="http://127.0.0.1:1/n170")
    assert all(i.url.startswith("http://127.0.0.1:1/n170/") for i in mirrored)


def test_a_fresh_data_root_from_one_command_runs_loso(mirror, tmp_path, data_root):
    """`fetch` four eegmat subjects from the mirror, then leave-one-subject-out on them."""
    handler, url = mirror
    fresh = tmp_path / "fresh"
    status = data_cli(["fetch", "physionet_eegmat", "--data-root", str(fresh), "--base-url",
                       f"{url}/physionet_eegmat/", "--subjects", "00,01,02,03", "--backoff", "0"])
    assert status == 0
    assert sorted(p.name for p in (fresh / "physionet_eegmat").iterdir()) == [
        f"Subject0{s}_{r}.edf" for s in range(4) for r in (1, 2)]
    env = {**os.environ, "EEGBENCH_RUNS_DIR": str(tmp_path / "runs"),
           "EEGBENCH_CACHE_DIR": str(tmp_path / "cache"), "EEGBENCH_DATA_ROOT": str(fresh)}
    proc = subprocess.run([sys.executable, "-m", "eegbench", "dataset=physionet_eegmat",
                           "model=ts_lr", "dataset.subjects=[00,01,02,03]"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(p.read_text())
            for p in (tmp_path / "runs" / "default" / "results" / "rows").glob("*.json")]
    assert sorted(r["test_subject"] for r in rows) == ["00", "01", "02", "03"]
    assert all(0.0 <= r["metrics"]["balanced_accuracy"] <= 1.0 for r in rows)


def _capped(max_file_bytes: int) -> Recipe:
    base = load_recipe(EEGMMIDB)
    raw = {**base.raw, "source": {**base.raw["source"], "max_file_bytes": max_file_bytes}}
    return Recipe(name=base.name, raw=raw, path=base.path)


def test_endless_response_is_stopped_at_the_size_limit_and_not_retried(mirror, tmp_path):
    """An endless response filled gigabytes before; it stops at source.max_file_bytes."""
    handler, url = mirror
    handler.faults[f"physionet_eegmmidb/{R04}"] = ["endless"] * 3
    limit = 5_000_000  # above every pinned S001 file (2.5 MB)
    with pytest.raises(FetchError, match=rf"S001R04\.edf.*the server sent more than the file "
                       rf"size limit {limit} \(source\.max_file_bytes\)"):
        fetch_dataset(_capped(limit), tmp_path / "data",
                      base_url=f"{url}/physionet_eegmmidb/", backoff_s=0.01, retries=2)
    folder = tmp_path / "data" / "physionet_eegmmidb"
    assert not (folder / R04).exists() and not list(folder.rglob("*.part"))
    assert sum(rel.endswith(R04) for rel, _ in handler.log_) == 1  # refused, not retried


def test_announced_size_above_the_limit_is_refused_before_reading(mirror, tmp_path):
    handler, url = mirror
    size = (Path(handler.data_root) / "physionet_eegmmidb" / R04).stat().st_size
    with pytest.raises(FetchError, match=rf"announces {size} bytes, more than the file size "
                       rf"limit {size - 1}"):
        fetch_dataset(_capped(size - 1), tmp_path / "data",
                      base_url=f"{url}/physionet_eegmmidb/", backoff_s=0.01)


def test_trickling_server_ends_at_the_deadline(mirror, tmp_path):
    """One byte every 0.2 s: every socket read succeeds, so only a total deadline ends it."""
    handler, url = mirror
    handler.faults[f"physionet_eegmmidb/{R04}"] = ["trickle"] * 5
    start = time.monotonic()
    with pytest.raises(FetchError, match=r"S001R04\.edf.*within the deadline of 1\.5 s"):
        _fetch(url, tmp_path, deadline_s=1.5, retries=4)
    assert time.monotonic() - start < 20  # the other two files, then 1.5 s (+ one read)
    assert not (tmp_path / "data" / "physionet_eegmmidb" / R04).exists()


def test_file_url_mirror_is_copied_and_verified(data_root, tmp_path, no_external_network):
    recipe = load_recipe(EEGMMIDB)
    mirror_url = (data_root / "physionet_eegmmidb").resolve().as_uri() + "/"
    done = fetch_dataset(recipe, tmp_path / "data", base_url=mirror_url, backoff_s=0.01)
    assert len(done) == len(recipe.source["sha256"])
    for path in done:
        rel = path.relative_to(tmp_path / "data" / "physionet_eegmmidb").as_posix()
        assert sha256_of(path) == _pinned(rel)


def test_missing_file_url_mirror_is_a_clear_error_not_a_retried_timeout(tmp_path, caplog):
    start = time.monotonic()
    with pytest.raises(FetchError) as err:
        fetch_dataset(load_recipe(EEGMMIDB), tmp_path / "data",
                      base_url=(tmp_path / "no_mirror").as_uri() + "/", backoff_s=1.0)
    assert time.monotonic() - start < 5  # no back-off: nothing was retried
    text = str(err.value)
    assert "3 of 3 file(s) failed" in text and "does not exist" in text
    assert "timed out" not in text and "retry" not in caplog.text
