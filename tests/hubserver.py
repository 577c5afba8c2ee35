"""A tiny local fake of the Hugging Face Hub HTTP API, for tests.

It serves repositories from a directory tree so that the *real* ``huggingface_hub`` / ``datasets`` /
``transformers`` client code works against it once ``HF_ENDPOINT`` points at it::

    <root>/datasets/<owner>/<name>/<quoted revision>/<files...>
    <root>/models/<owner>/<name>/<quoted revision>/<files...>
    <root>/<type>s/<owner>/<name>/.gated          # optional: repo is gated ("auto" / "manual")

The revision directory name is ``urllib.parse.quote(revision, safe="")``, e.g. ``main`` or
``refs%2Fconvert%2Fparquet``; use :func:`add_file` rather than building paths by hand.
Everything is read from disk on every request, so repos can be (re)populated while the server runs.

Endpoints (all that huggingface_hub 2.4 / datasets 5.2 / transformers 5.23 need for downloads):

* ``GET  /api/{models|datasets}/{repo}``                  repo_info without revision (HfFileSystem uses it)
* ``GET  /api/{models|datasets}/{repo}/revision/{rev}``   repo_info / dataset_info / model_info
* ``GET  /api/{models|datasets}/{repo}/tree/{rev}[/{path}]?recursive=..``  list_repo_tree (HfFileSystem ls/glob,
  snapshot_download)
* ``POST /api/{models|datasets}/{repo}/paths-info/{rev}``  get_paths_info (HfFileSystem.info)
* ``HEAD|GET /[datasets/]{repo}/resolve/{rev}/{path}``    hf_hub_download (HEAD for metadata) and
  HfFileSystem reads (GET with ``Range``)

Errors mimic the Hub: ``X-Error-Code`` (RepoNotFound / RevisionNotFound / EntryNotFound / GatedRepo) and
``X-Error-Message`` headers, which ``huggingface_hub.utils.hf_raise_for_status`` maps to its exception classes.
Gating only protects file downloads (``resolve``); metadata and listings stay public, as on the real Hub.

Typical pytest wiring (HF_ENDPOINT is read when huggingface_hub / datasets are *imported*, so do this at the top of
conftest.py, before anything imports them)::

    _HUB = HubServer(tmp_root).start()            # or HubServer(root, port=fixed).start() later
    os.environ.update(HF_ENDPOINT=_HUB.url, HF_HOME=..., HF_DATASETS_CACHE=..., HF_HUB_DISABLE_TELEMETRY="1",
                      HF_UPDATE_DOWNLOAD_COUNTS="0")      # else datasets HEADs https://s3.amazonaws.com/...
    # and after importing datasets: datasets.config.USE_PARQUET_EXPORT = False
    #   (else it GETs http://datasets-server.127.0.0.1:<port>/info, a host that cannot resolve)

Every request is appended to ``HubServer.log`` as ``(method, path, status)``; requests that hit no route are
answered 404 and also recorded in ``HubServer.unhandled``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

# Files served as if stored with Git LFS (tree entries get an "lfs" block, HEAD gets X-Linked-Etag = sha256).
LFS_SUFFIXES = {".parquet", ".arrow", ".safetensors", ".bin", ".pt", ".pth", ".h5", ".onnx", ".gguf", ".msgpack"}
FAKE_DATE = "2024-01-01T00:00:00.000Z"


# --------------------------------------------------------------------------------------------- layout helpers
def repo_path(root, repo_id: str, repo_type: str = "dataset") -> Path:
    return Path(root) / f"{repo_type}s" / repo_id


def revision_path(root, repo_id: str, revision: str = "main", repo_type: str = "dataset") -> Path:
    return repo_path(root, repo_id, repo_type) / quote(revision, safe="")


def add_file(root, repo_id: str, path_in_repo: str, content, *, revision="main", repo_type="dataset") -> Path:
    """Write one file (str, bytes, or an existing local Path to copy) into a repo revision."""
    dest = revision_path(root, repo_id, revision, repo_type) / path_in_repo
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, Path):
        content = content.read_bytes()
    dest.write_bytes(content.encode() if isinstance(content, str) else content)
    return dest


def add_folder(root, repo_id: str, folder, *, revision="main", repo_type="dataset") -> None:
    """Copy every file of a local folder (e.g. a `save_pretrained` output) into a repo revision."""
    for f in sorted(Path(folder).rglob("*")):
        if f.is_file():
            add_file(root, repo_id, f.relative_to(folder).as_posix(), f, revision=revision, repo_type=repo_type)


def add_parquet(root, repo_id: str, path_in_repo: str, columns: dict, *, revision="main") -> Path:
    """A Parquet file of `columns` (name -> values) in a dataset repo revision."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink)
    return add_file(root, repo_id, path_in_repo, sink.getvalue().to_pybytes(), revision=revision)


def set_gated(root, repo_id: str, mode: str = "auto", *, repo_type: str = "dataset") -> None:
    p = repo_path(root, repo_id, repo_type)
    p.mkdir(parents=True, exist_ok=True)
    (p / ".gated").write_text(mode)


# --------------------------------------------------------------------------------------------- repo model
_hash_cache: dict = {}


def _file_hashes(f: Path) -> tuple[str, str]:
    """(git blob sha1, sha256) of a file, cached on (path, mtime, size)."""
    st = f.stat()
    key = (str(f), st.st_mtime_ns, st.st_size)
    if key not in _hash_cache:
        data = f.read_bytes()
        _hash_cache[key] = (
            hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
            hashlib.sha256(data).hexdigest(),
        )
    return _hash_cache[key]


class _Revision:
    """One revision directory: file list, per-file hashes and a deterministic 40-hex commit sha."""

    def __init__(self, name: str, path: Path):
        self.name, self.path = name, path
        self.files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        listing = "\n".join(f"{f} {_file_hashes(path / f)[0]}" for f in self.files)
        self.sha = hashlib.sha1(f"{name}\n{listing}".encode()).hexdigest()

    def dirs(self) -> set[str]:
        return {"/".join(f.split("/")[:i]) for f in self.files for i in range(1, f.count("/") + 1)}

    def entry(self, p: str) -> dict:
        """A tree / paths-info entry, in the Hub's JSON format."""
        if p not in self.files:
            return {"type": "directory", "oid": hashlib.sha1(f"tree {self.sha} {p}".encode()).hexdigest(), "size": 0,
                    "path": p}
        oid, sha256 = _file_hashes(self.path / p)
        size = (self.path / p).stat().st_size
        e = {"type": "file", "oid": oid, "size": size, "path": p}
        if Path(p).suffix in LFS_SUFFIXES:
            e["lfs"] = {"oid": sha256, "size": size, "pointerSize": 134}
        return e


class _Repo:
    def __init__(self, repo_type: str, repo_id: str, path: Path):
        self.type, self.id, self.path = repo_type, repo_id, path
        gated = path / ".gated"
        self.gated = (gated.read_text().strip() or "auto") if gated.exists() else False
        self.revisions = {
            unquote(d.name): d for d in sorted(path.iterdir()) if d.is_dir() and not d.name.startswith(".")
        }

    def revision(self, rev: str) -> _Revision | None:
        """Look a revision up by name (branch / tag / refs/...) or by commit sha."""
        if rev in self.revisions:
            return _Revision(rev, self.revisions[rev])
        if re.fullmatch(r"[0-9a-f]{40}", rev):
            for name, d in self.revisions.items():
                r = _Revision(name, d)
                if r.sha == rev:
                    return r
        return None

    def split_rev_path(self, segments: list[str]) -> tuple[str, str]:
        """Split raw URL segments into (revision, path). Revisions normally arrive quoted in ONE segment
        (refs%2Fconvert%2Fparquet) but accept them unquoted too (refs/convert/parquet/...)."""
        for i in range(1, len(segments) + 1):
            cand = unquote("/".join(segments[:i]))
            if cand in self.revisions or (i == 1 and self.revision(cand)):
                return cand, unquote("/".join(segments[i:]))
        return unquote(segments[0]) if segments else "main", unquote("/".join(segments[1:]))

    def info(self, rev: _Revision) -> dict:
        card = {}
        if "README.md" in rev.files:
            m = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", (rev.path / "README.md").read_text(), re.S)
            if m:
                import yaml  # dependency of datasets / transformers

                card = yaml.safe_load(m.group(1)) or {}
        siblings = []
        for f in rev.files:
            e = rev.entry(f)
            s = {"rfilename": f, "size": e["size"], "blobId": e["oid"]}
            if "lfs" in e:
                s["lfs"] = {"size": e["size"], "sha256": e["lfs"]["oid"], "pointerSize": 134}
            siblings.append(s)
        out = {"_id": rev.sha[:24], "id": self.id, "author": self.id.split("/")[0], "sha": rev.sha,
               "lastModified": FAKE_DATE, "createdAt": FAKE_DATE, "private": False, "gated": self.gated,
               "disabled": False, "downloads": 0, "likes": 0, "tags": [], "cardData": card, "siblings": siblings}
        if self.type == "model":
            out["modelId"] = self.id
        return out


# --------------------------------------------------------------------------------------------- HTTP handler
class _HubError(Exception):
    def __init__(self, status: int, code: str | None, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response therefore carries Content-Length
    server: "HubServer"

    def log_message(self, *args):  # silence stderr access log; we keep our own
        pass

    def do_HEAD(self):
        self._dispatch()

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    # -- plumbing
    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.log.append((self.command, self.path, status))

    def _json(self, obj, status=200):
        self._send(status, json.dumps(obj).encode())

    def _dispatch(self):
        # Always consume a request body first: with keep-alive, unread bytes would corrupt the next request.
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        try:
            auth = self.headers.get("Authorization")
            if self.server.echo_authorization and auth and auth.removeprefix("Bearer ") not in (self.server.tokens or ()):
                # as a careless server or proxy does: the request's credentials in its error message
                raise _HubError(401, None, f"bad credentials {auth}")
            self._route()
        except _HubError as e:
            headers = {"X-Error-Message": e.message, **e.headers}
            if e.code:
                headers["X-Error-Code"] = e.code
            self._send(e.status, json.dumps({"error": e.message}).encode(), headers)

    def _repo(self, repo_type: str, owner: str, name: str) -> _Repo:
        path = repo_path(self.server.root, f"{owner}/{name}", repo_type)
        if not path.is_dir():
            raise _HubError(404, "RepoNotFound", "Repository not found")
        return _Repo(repo_type, f"{owner}/{name}", path)

    def _rev(self, repo: _Repo, rev: str) -> _Revision:
        r = repo.revision(rev)
        if r is None:
            raise _HubError(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        return r

    def _route(self):
        url = urlsplit(self.path)
        if url.path in ("", "/"):  # the hub's home page: what a reachability check asks for
            return self._send(200, b"", ctype="text/html")
        # Split BEFORE unquoting: a revision like refs%2Fconvert%2Fparquet must stay one segment.
        parts = url.path.strip("/").split("/")
        # ---- /api/{models|datasets}/{owner}/{name}/...
        if len(parts) >= 4 and parts[0] == "api" and parts[1] in ("models", "datasets"):
            repo = self._repo(parts[1][:-1], parts[2], parts[3])
            action, rest = (parts[4], parts[5:]) if len(parts) > 4 else ("revision", ["main"])
            if action == "revision" and self.command == "GET":
                return self._json(repo.info(self._rev(repo, unquote("/".join(rest)))))
            if action == "tree" and self.command == "GET":
                rev, path = repo.split_rev_path(rest)
                return self._tree(self._rev(repo, rev), path, parse_qs(url.query))
            if action == "paths-info" and self.command == "POST":
                return self._paths_info(self._rev(repo, unquote("/".join(rest))))
        # ---- /datasets/{owner}/{name}/resolve/{rev}/{path}  and  /{owner}/{name}/resolve/{rev}/{path} (models)
        repo_type, p = ("dataset", parts[1:]) if parts[0] == "datasets" else ("model", parts)
        if len(p) >= 5 and p[2] == "resolve" and self.command in ("GET", "HEAD"):
            return self._resolve(self._repo(repo_type, p[0], p[1]), p[3:])
        self.server.unhandled.append((self.command, self.path))
        raise _HubError(404, None, f"fake hub: no route for {self.command} {url.path}")

    # -- endpoints
    def _tree(self, rev: _Revision, path: str, query: dict):
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        path = path.strip("/")
        dirs = rev.dirs()
        if path and path not in dirs:
            raise _HubError(404, "EntryNotFound", f"{path} does not exist on \"{rev.name}\"")
        prefix = f"{path}/" if path else ""
        children = [p for p in sorted(dirs | set(rev.files)) if p.startswith(prefix)]
        if not recursive:
            children = [p for p in children if "/" not in p[len(prefix):]]
        # directories first, like the Hub
        self._json([rev.entry(p) for p in sorted(children, key=lambda p: (p in rev.files, p))])

    def _paths_info(self, rev: _Revision):
        if "json" in (self.headers.get("Content-Type") or ""):
            paths = json.loads(self.body).get("paths", [])
        else:  # huggingface_hub posts form data: paths=a&paths=b&expand=False
            paths = parse_qs(self.body).get("paths", [])
        known = rev.dirs() | set(rev.files)
        self._json([rev.entry(p.strip("/")) for p in paths if p.strip("/") in known])

    def _resolve(self, repo: _Repo, segments: list[str]):
        rev_name, path = repo.split_rev_path(segments)
        rev = self._rev(repo, rev_name)
        commit = {"X-Repo-Commit": rev.sha}
        if repo.gated:
            auth = self.headers.get("Authorization") or ""
            token = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else ""
            kind = f"{repo.type} {repo.id}"
            if not token:
                raise _HubError(401, "GatedRepo", f"Access to {kind} is restricted. You must have access to it and be "
                                "authenticated to access it. Please log in.", commit)
            if self.server.tokens is not None and token not in self.server.tokens:
                page = f"{self.server.url}/{'datasets/' if repo.type == 'dataset' else ''}{repo.id}"
                raise _HubError(403, "GatedRepo", f"Access to {kind} is restricted and you are not in the authorized "
                                f"list. Visit {page} to ask for access.", commit)
        if path not in rev.files:
            raise _HubError(404, "EntryNotFound", "Entry not found", commit)
        f = rev.path / path
        data = f.read_bytes()
        oid, sha256 = _file_hashes(f)
        headers = {**commit, "Accept-Ranges": "bytes"}
        if Path(path).suffix in LFS_SUFFIXES:  # LFS file: the Hub exposes the sha256 as the linked ETag
            headers.update({"ETag": f'"{sha256}"', "X-Linked-Etag": f'"{sha256}"', "X-Linked-Size": str(len(data))})
        else:
            headers["ETag"] = f'"{oid}"'
        status, rng = 200, self.headers.get("Range")
        if rng:  # single range only: bytes=a-b | bytes=a- | bytes=-n (all that fsspec / http_get send)
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if not m or not (m.group(1) or m.group(2)):
                raise _HubError(416, None, "Bad range", {"Content-Range": f"bytes */{len(data)}"})
            if m.group(1):
                start, end = int(m.group(1)), min(int(m.group(2) or len(data) - 1), len(data) - 1)
            else:
                start, end = max(len(data) - int(m.group(2)), 0), len(data) - 1
            if start >= len(data) or start > end:
                raise _HubError(416, None, "Requested range not satisfiable", {"Content-Range": f"bytes */{len(data)}"})
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            status, data = 206, data[start:end + 1]
        self._send(status, data, headers, ctype="application/octet-stream")


# --------------------------------------------------------------------------------------------- server
class HubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root, tokens=None, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.root = Path(root)
        self.tokens = None if tokens is None else set(tokens)  # None: any bearer token unlocks gated repos
        self.log: list[tuple[str, str, int]] = []
        self.unhandled: list[tuple[str, str]] = []
        self.echo_authorization = False  # True: a token not in `tokens` is answered 401 echoing the header
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="fake-hf-hub")

    def start(self) -> "HubServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __str__(self) -> str:
        return self.url


@contextlib.contextmanager
def serve(root, tokens=None, port: int = 0):
    """Run a fake Hub over `root` in a background thread; yields the HubServer (``.url`` is the HF_ENDPOINT).

    `tokens`: bearer tokens accepted for gated repos (None = any non-empty token).
    NB: huggingface_hub / datasets read HF_ENDPOINT at import time, so either start the server before importing
    them (pass a fixed `port`, or set os.environ["HF_ENDPOINT"] = server.url first) or patch their constants.
    """
    server = HubServer(root, tokens=tokens, port=port).start()
    try:
        yield server
    finally:
        server.stop()
