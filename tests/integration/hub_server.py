"""A loopback Hugging Face Hub: the part of the protocol ``hf_hub_download`` uses for one file.

``HEAD``/``GET /{owner}/{repo}/resolve/{revision}/{path}`` answers like the Hub does for a file
stored in LFS/Xet: a ``302`` to a content URL on another origin (as the Hub redirects to its CDN;
here a second server on 127.0.0.1, another port) with ``X-Repo-Commit`` (the commit the revision
resolves to), ``X-Linked-Etag`` (the sha256 of the file), ``X-Linked-Size`` and ``ETag``;
unknown revisions and files get ``404`` with the Hub's ``X-Error-Code`` (``RevisionNotFound``,
``EntryNotFound``, ``RepoNotFound``). ``GET /cdn/{sha256}`` on the content server serves the
bytes (with ``Range`` support, which ``huggingface_hub`` uses to resume). Both servers bind
127.0.0.1 only.

Fault injection for tests: ``answer_commit`` (report another commit than the one requested),
``tamper`` (serve other bytes than the ones announced) and ``truncate`` (send fewer bytes than
``X-Linked-Size`` announces).

Dataset repositories (``repo_type="dataset"``, what ``snapshot_download`` and braindecode's
``pull_from_hub`` fetch): the resolve URL carries a ``/datasets`` prefix, and two API routes list
a revision: ``GET /api/{models|datasets}/{owner}/{repo}/revision/{revision}`` (repository info:
``sha`` is the commit the revision resolves to, ``answer_commit`` when set, and ``siblings``)
and ``GET /api/{models|datasets}/{owner}/{repo}/tree/{revision}[/{path}]?recursive=...`` (one
page listing every file with its git blob id and, as for LFS files, its sha256 and size).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class HubState:
    """Repositories served: ``repos[repo_id][commit][path] = bytes``; ``refs`` name commits."""

    repos: dict[str, dict[str, dict[str, bytes]]] = field(default_factory=dict)
    refs: dict[str, dict[str, str]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    answer_commit: str | None = None
    tamper: bool = False
    truncate: bool = False

    def add_file(self, repo_id: str, commit: str, path: str, data: bytes,
                 branch: str = "main") -> str:
        """Publish ``data`` as ``path`` at ``commit`` (and point ``branch`` to it); return sha."""
        self.repos.setdefault(repo_id, {}).setdefault(commit, {})[path] = data
        self.refs.setdefault(repo_id, {})[branch] = commit
        sha = hashlib.sha256(data).hexdigest()
        self.blobs[sha] = data
        return sha

    def add_folder(self, repo_id: str, commit: str, folder: Path,
                   branch: str = "main") -> dict[str, str]:
        """Publish every file under ``folder`` (paths relative to it); return path -> sha256."""
        return {p.relative_to(folder).as_posix(): self.add_file(
            repo_id, commit, p.relative_to(folder).as_posix(), p.read_bytes(), branch)
            for p in sorted(folder.rglob("*")) if p.is_file()}


_RESOLVE = re.compile(r"^(?:/datasets)?/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/"
                      r"(?P<path>.+)$")
_API = re.compile(r"^/api/(?:models|datasets)/(?P<repo>[^/]+/[^/]+)/(?P<kind>revision|tree)/"
                  r"(?P<rev>[^/]+)(?:/(?P<path>.+))?$")


def git_blob_id(data: bytes) -> str:
    """The git object id of a file's bytes (``sha1("blob <size>\\0" + bytes)``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's id


def _handler(state: HubState, cdn_url: callable):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep pytest output clean
            pass

        def _send(self, code: int, headers: dict[str, str], body: bytes = b"") -> None:
            self.send_response(code)
            for k, v in headers.items():
                self.send_header(k, v)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and body:
                self.wfile.write(body)

        def _resolve(self) -> None:
            m = _RESOLVE.match(self.path.split("?")[0])
            repo, rev, path = m["repo"], unquote(m["rev"]), unquote(m["path"])
            if repo not in state.repos:
                return self._send(404, {"X-Error-Code": "RepoNotFound"})
            commit = state.refs[repo].get(rev, rev)
            if commit not in state.repos[repo]:
                return self._send(404, {"X-Error-Code": "RevisionNotFound"})
            answered = state.answer_commit or commit
            data = state.repos[repo][commit].get(path)
            if data is None:
                return self._send(404, {"X-Error-Code": "EntryNotFound",
                                        "X-Repo-Commit": answered})
            sha = hashlib.sha256(data).hexdigest()
            self._send(302, {"Location": f"{cdn_url()}/cdn/{sha}",
                             "X-Repo-Commit": answered, "X-Linked-Etag": f'"{sha}"',
                             "X-Linked-Size": str(len(data)), "ETag": f'"{sha[:40]}"',
                             "Content-Length": "0"})

        def _api(self) -> None:
            m = _API.match(urlsplit(self.path).path)
            repo, rev = m["repo"], unquote(m["rev"])
            if repo not in state.repos:
                return self._send(404, {"X-Error-Code": "RepoNotFound"})
            commit = state.refs[repo].get(rev, rev)
            if commit not in state.repos[repo]:
                return self._send(404, {"X-Error-Code": "RevisionNotFound"})
            files = state.repos[repo][commit]
            if m["kind"] == "revision":
                body = {"id": repo, "sha": state.answer_commit or commit, "private": False,
                        "siblings": [{"rfilename": p} for p in sorted(files)]}
            else:
                prefix = f"{unquote(m['path'])}/" if m["path"] else ""
                query = parse_qs(urlsplit(self.path).query)
                recursive = query.get("recursive", [""])[0].lower() == "true"
                body, folders = [], set()
                for path in sorted(p for p in files if p.startswith(prefix)):
                    rest = path[len(prefix):].split("/")
                    for depth in range(1, len(rest)):
                        folders.add(prefix + "/".join(rest[:depth]))
                    if len(rest) == 1 or recursive:
                        data = files[path]
                        body.append({"type": "file", "path": path, "size": len(data),
                                     "oid": git_blob_id(data),
                                     "lfs": {"oid": hashlib.sha256(data).hexdigest(),
                                             "size": len(data), "pointerSize": 134}})
                body += [{"type": "directory", "path": f, "oid": "0" * 40}
                         for f in sorted(folders)
                         if recursive or "/" not in f[len(prefix):]]
            payload = json.dumps(body).encode()
            self._send(200, {"Content-Type": "application/json"}, payload)

        def _cdn(self) -> None:
            sha = self.path.split("?")[0].rsplit("/", 1)[-1]
            data = state.blobs.get(sha)
            if data is None:
                return self._send(404, {})
            if state.tamper:
                data = bytes(b ^ 0xFF for b in data[:64]) + data[64:]
            if state.truncate:
                data = data[: len(data) // 2]
            start = 0
            rng = self.headers.get("Range")
            if rng and (m := re.match(r"bytes=(\d+)-", rng)):
                start = int(m[1])
                body = data[start:]
                return self._send(206, {"Content-Range": f"bytes {start}-{len(data) - 1}/"
                                                         f"{len(data)}"}, body)
            self._send(200, {"Content-Type": "application/octet-stream"}, data)

        def _dispatch(self) -> None:
            state.requests.append((self.command, self.path))
            if self.path.startswith("/cdn/"):
                return self._cdn()
            if _RESOLVE.match(self.path.split("?")[0]):
                return self._resolve()
            if _API.match(urlsplit(self.path).path):
                return self._api()
            self._send(404, {})

        do_HEAD = _dispatch
        do_GET = _dispatch

    return Handler


def _url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


class LoopbackHub:
    """Start/stop the hub and its content server on ``127.0.0.1`` (free ports)."""

    def __init__(self) -> None:
        self.state = HubState()
        handler = _handler(self.state, lambda: _url(self.cdn))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.cdn = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.threads = [threading.Thread(target=s.serve_forever, daemon=True)
                        for s in (self.server, self.cdn)]

    @property
    def url(self) -> str:
        """Base URL of the hub (``HF_ENDPOINT``)."""
        return _url(self.server)

    def __enter__(self) -> LoopbackHub:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        for s in (self.server, self.cdn):
            s.shutdown()
            s.server_close()
        for t in self.threads:
            t.join(timeout=5)
