"""Local stand-in for the Hugging Face Hub HTTP API, for tests (standard library only).

Point the real ``huggingface_hub`` client (verified against 2.4.0, httpx2 transport) at it with::

    with HubServer(tmp_path / "hub", tokens={"hf_test_alice": "alice"}) as server:
        env = client_env(server.endpoint, token="hf_test_alice", home=str(tmp_path / "hf_home"))
        subprocess.run([sys.executable, "script.py"], env=env, check=True)

``HF_ENDPOINT`` is read once, at import time (``constants.ENDPOINT`` and ``constants.HUGGINGFACE_CO_URL_TEMPLATE``,
the default ``huggingface_hub.hf_api.api`` instance, ``HF_HUB_DISABLE_XET``), so set the variables before the client
is imported (fresh subprocess), or call :func:`patch_client` in a process that already imported it.

Required client settings
    * ``HF_HUB_DISABLE_XET=1``: with ``hf_xet`` installed the client uploads through Xet *unconditionally*
      (``_commit_api._upload_files`` and ``upload_folder``'s pipelined path never ask the server), so without it
      uploads fail on ``/api/{type}s/{repo}/xet-write-token/{rev}`` (404 here). Downloads only use Xet when a
      response carries ``X-Xet-Hash``; this server never sends any ``X-Xet-*`` header or ``xet-auth`` link and its
      LFS batch API always answers ``"transfer": "basic"``.
    * ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` unset (offline mode blocks every request in the client).
    * ``HF_HOME`` pointing to a temporary folder (cache and token file), ``HF_TOKEN`` for the token.
    * ``HF_HUB_DISABLE_TELEMETRY=1`` (otherwise telemetry goes to ``/api/telemetry/...``, answered ``{}`` here).

Served endpoints (``{type}`` is ``models``, ``datasets`` or ``spaces``; ``{prefix}`` is ``""``, ``datasets/`` or
``spaces/``; every repo id is ``namespace/name``; revisions may be percent-encoded, e.g. ``refs%2Fpr%2F1``)
    GET    /api/whoami-v2
    POST   /api/repos/create                      409 + ``{"error", "url"}`` if it exists, 403 foreign namespace
    DELETE /api/repos/delete
    POST   /api/repos/move                        old id then answers 307 with a *relative* Location
    POST   /api/validate-yaml                     always valid
    GET    /api/agent-harnesses, * /api/telemetry/...
    GET    /api/{type}/{repo}[/revision/{rev}]    ``blobs``, ``expand``/``expand[]``, ``securityStatus``
    GET    /api/{type}/{repo}/tree/{rev}[/{path}] ``recursive``, ``expand``, cursor pagination with ``Link: rel=next``
    POST   /api/{type}/{repo}/paths-info/{rev}    form body ``paths=...&expand=...``
    GET    /api/{type}/{repo}/refs, /commits/{rev}
    PUT    /api/{type}/{repo}/settings            ``visibility``/``private``/``gated``
    POST   /api/{type}/{repo}/branch/{branch}     ``startingPoint``; 409 if it exists; DELETE too
    POST   /api/{type}/{repo}/tag/{rev}           ``{"tag", "message"}``; DELETE /tag/{tag}
    POST   /api/{type}/{repo}/preupload/{rev}     lfs if NUL byte in sample, > 10 MiB, or an LFS rule of the
                                                  revision's ``.gitattributes`` (``*.safetensors``, ``*.bin``,
                                                  ``*.png``...); ``shouldIgnore`` from ``gitIgnore``/``.gitignore``
    POST   /api/{type}/{repo}/commit/{rev}        NDJSON header/file/lfsFile/deletedFile/deletedFolder, atomic,
                                                  ``parentCommit`` (412), ``create_pr=1`` (ref ``refs/pr/N``)
    POST   /{prefix}{repo}.git/info/lfs/objects/batch   basic transfer, upload href = PUT /_lfs_upload/{oid}?ticket=
    POST   /{prefix}{repo}.git/info/lfs/objects/verify
    PUT    /_lfs_upload/{oid}?ticket=...          no auth (like a pre-signed URL); checks size + sha256
    GET|HEAD /{prefix}{repo}/resolve/{rev}/{path} ETag, X-Repo-Commit, X-Linked-Etag/-Size (LFS), Range (206/416)
    GET|HEAD /_cdn/{sha256}?sig=...               LFS "CDN" when ``lfs_redirect=True`` (302 to ``localhost``)

Errors follow ``huggingface_hub.utils._http.hf_raise_for_status``: ``X-Error-Code`` RepoNotFound (401 without a
token, 404 with one; missing and private-foreign repos look alike), RevisionNotFound (404), EntryNotFound (404, with
``X-Repo-Commit``), GatedRepo (401/403); a bad token gives 401 ``Invalid credentials in Authorization header`` on every
endpoint (-> plain ``HfHubHTTPError``; note the client's "401 means RepoNotFound" fallback only applies to https
URLs); 400 -> ``BadRequestError`` (e.g. a commit referencing an LFS object never uploaded); 403 no write access.

Client retry behaviour (read from the 2.4.0 source; the LFS PUT, commit, resolve HEAD and GET cases are exercised
by selftest.py)
    * ``http_backoff`` retries 408/429/500/502/503/504 and httpx2 ``TimeoutException``/``NetworkError``/
      ``RemoteProtocolError`` (a dropped connection) 5 times: 6 attempts, sleeping 1, 2, 4, 8, 8 s (a
      ``Retry-After: N`` header makes each sleep N+1 s). Used by: preupload, LFS batch, LFS PUT, LFS verify, tree
      pagination, commit listing. An LFS upload that still fails surfaces as ``RuntimeError("Error while uploading
      '<path>' to the Hub.")`` (cause: the httpx2 error or ``HfHubHTTPError``), not as ``HfHubHTTPError``.
    * Not retried: the commit POST (``create_commit`` passes ``retry_on_error=False``), create_repo, create_branch,
      repo_info/model_info, whoami, paths-info, validate-yaml, safetensors-metadata range GETs.
    * ``hf_hub_download``: HEAD once without retry; if it fails with a retryable status/timeout/connect error and the
      file is not cached, one more HEAD through ``http_backoff`` (6 attempts): 7 HEADs in all, then
      ``LocalEntryNotFoundError`` (caused by the ``HfHubHTTPError``). A dropped HEAD
      (``RemoteProtocolError``) is NOT retried and propagates as is. The GET is not retried on 5xx (only 408/429) but a
      body cut short (``truncate=`` fault) is retried up to 5 times, resuming with ``Range: bytes=N-`` where N only
      counts whole 10 MiB chunks (``DOWNLOAD_CHUNK_SIZE``): a cut in the first 10 MiB restarts from 0 without Range.
    * ``create_repo`` loops forever on 409 whose body contains "Cannot create repo: another conflicting operation is
      in progress" (never sent here).
    => To make a call fail despite the retries use ``fail_next(op, times=N)`` with N >= 6 (>= 7 for resolve HEADs).

Fault injection: ``server.fail_next(op, status=500, times=1, drop=False, truncate=None, after=False, delay=0.0,
method=None, headers=None, message=None, error_code=None)``. ``op`` is one of :data:`OPS` or ``"any"``. A fault fires
on the next ``times`` matching requests, before auth and before any state change, unless ``after=True`` (the request
is processed, then its response is replaced/dropped: "commit applied but answer lost"). ``drop=True`` closes the
connection without answering (``lfs_upload`` reads half of the body first); ``truncate=N`` serves a download normally
but cuts the body after N bytes; ``delay`` sleeps first (``status=None`` for a pure delay).

Storage under ``root``: ``blobs/<sha256[:2]>/<sha256>`` (all contents), ``repos/<type>/<ns>/<name>/repo.json``
(visibility, branches/tags/PR refs -> commit, uploaded LFS oids) and ``.../commits/<sha>.json`` (parents, message,
``files: {path: {sha256, size, lfs, oid}}`` with ``oid`` the git blob sha1, of the pointer for LFS). A commit writes
blobs, then the commit file, then ``repo.json`` via ``os.replace``; memory is updated last. Tokens and Authorization
headers are never stored or logged; ``server.requests`` holds ``{time, method, path, query (keys only), range, op,
status}`` (status "dropped" for dropped connections).
Bounds: ``max_requests`` (then 503 and shutdown), ``max_seconds`` (daemon timer -> shutdown), ``max_body`` (413).
Test helpers: ``requests``, ``request_count``, ``errors`` (server tracebacks), ``repo_state()``, ``file_content()``,
``add_token()``, ``grant_access()`` (gated repos), ``clear_faults()``; ``lfs_redirect``/``tree_page_size`` are settable.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import fnmatch
import hashlib
import hmac
import json
import mimetypes
import os
import re
import secrets
import shutil
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, quote, unquote, urlencode

REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_OPS_TEXT = """
whoami create_repo delete_repo move_repo validate_yaml misc repo_info tree paths_info refs commits settings
create_branch delete_branch create_tag delete_tag preupload commit lfs_batch lfs_verify lfs_upload resolve cdn
"""
OPS = tuple(_OPS_TEXT.split())
MAX_REGULAR_FILE = 10 * 1024 * 1024
_HEX40 = re.compile(r"[0-9a-f]{40}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_HOST_RE = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9a-fA-F:.]+\](:\d{1,5})?")
_TRACE_RE = re.compile(r"[A-Za-z0-9=;._:-]{1,200}")
_RANGE_RE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.IGNORECASE)
_LFS_PATTERNS = [
    *("*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gguf", "*.gz", "*.h5", "*.joblib", "*.lfs.*"),
    *("*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb", "*.pickle"),
    *("*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors", "saved_model/**/*", "*.tar.*", "*.tar", "*.tflite"),
    *("*.tgz", "*.wasm", "*.xz", "*.zip", "*.zst", "*tfevents*", "*.png", "*.jpg", "*.jpeg", "*.gif", "*.webp"),
    *("*.mp3", "*.wav", "*.flac", "*.ogg", "*.mp4"),
]
DEFAULT_GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in _LFS_PATTERNS).encode()


class HubError(Exception):
    """An HTTP error answered the way the Hub does (JSON ``error`` body, ``X-Error-Code``/``X-Error-Message``)."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


@dataclass
class Fault:
    """An armed fault; ``remaining`` counts down, ``fired`` counts up."""

    op: str
    status: int | None = 500
    remaining: int = 1
    drop: bool = False
    truncate: int | None = None
    after: bool = False
    delay: float = 0.0
    method: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    error_code: str | None = None
    fired: int = 0


@dataclass
class _Resp:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    path: Path | None = None  # stream [start, start + length) of this file instead of ``body``
    start: int = 0
    length: int = 0


@dataclass
class _Route:
    op: str
    fn: Callable[..., _Resp]
    kwargs: dict[str, Any] = field(default_factory=dict)
    repo_ref: tuple[str, str, int] | None = None  # (repo type, repo id, index of the namespace segment)


@dataclass
class _Repo:
    type: str
    id: str
    private: bool
    created_at: str
    sdk: str | None = None
    gated: str | bool = False
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    prs: dict[str, str] = field(default_factory=dict)
    lfs: set[str] = field(default_factory=set)
    granted: set[str] = field(default_factory=set)
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)

    def meta(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "id": self.id,
            "private": self.private,
            "created_at": self.created_at,
            "sdk": self.sdk,
            "gated": self.gated,
            "branches": self.branches,
            "tags": self.tags,
            "prs": self.prs,
            "lfs": sorted(self.lfs),
            "granted": sorted(self.granted),
        }


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> _Resp:
    return _Resp(
        status, json.dumps(data).encode(), {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    )


def _now_iso() -> str:
    now = datetime.now(timezone.utc)
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _header_value(value: str) -> str:
    return str(value).replace("\r", " ").replace("\n", " ").encode("ascii", "backslashreplace").decode()[:1000]


def _repo_not_found(user: str | None) -> HubError:
    return HubError(401 if user is None else 404, "Repository not found", "RepoNotFound")


def _rev_not_found(rev: str) -> HubError:
    return HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")


def _entry_not_found(message: str, commit: str | None = None) -> HubError:
    return HubError(404, message, "EntryNotFound", {"X-Repo-Commit": commit} if commit else None)


def _check_path(path: Any) -> str:
    if not isinstance(path, str) or not path or path.startswith("/") or len(path) > 1000:
        raise HubError(400, f"Invalid path: {path!r}")
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts) or parts[0] == ".git" or "\x00" in path:
        raise HubError(400, f"Invalid path: {path!r}")
    return path


def _matches(path: str, patterns: list[str]) -> bool:
    base = path.rsplit("/", 1)[-1]
    for pat in patterns:
        if "/" in pat.rstrip("/"):
            pat = pat.lstrip("/")
            if fnmatch.fnmatchcase(path, pat) or fnmatch.fnmatchcase(path, pat.replace("**/", "")):
                return True
        elif pat.endswith("/"):
            if pat.rstrip("/") in path.split("/")[:-1]:
                return True
        elif fnmatch.fnmatchcase(base, pat) or fnmatch.fnmatchcase(path, pat):
            return True
    return False


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """Return (start, end inclusive); ``None`` if the header is not a single byte range; raise 416 if unsatisfiable."""
    m = _RANGE_RE.fullmatch(value)
    if m is None:
        return None
    first, last = m.groups()
    unsatisfiable = HubError(416, "Requested Range Not Satisfiable", headers={"Content-Range": f"bytes */{size}"})
    if not first:
        if not last or int(last) == 0 or size == 0:
            raise unsatisfiable
        return max(0, size - int(last)), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise unsatisfiable
    return start, end


def _read_exactly(rfile: Any, length: int) -> Iterator[bytes]:
    """``length`` bytes of a request body, in chunks of at most 1 MiB."""
    remaining = length
    while remaining:
        chunk = rfile.read(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionError("client closed the connection mid-body")
        remaining -= len(chunk)
        yield chunk


class _Ctx:
    """Per-request state: parsed query, authenticated user, body reader."""

    def __init__(self, hub: HubServer, h: _Handler, raw_path: str, query_string: str) -> None:
        self.hub, self.h, self.method = hub, h, h.command
        self.raw_path, self.query_string = raw_path, query_string
        self.query = parse_qs(query_string, keep_blank_values=True)
        self.user: str | None = None
        self.read_only = False
        self.truncate: int | None = None
        self._consumed = False
        host = h.headers.get("Host", "")
        self.base = f"http://{host}" if _HOST_RE.fullmatch(host) else hub.endpoint

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def qbool(self, name: str) -> bool:
        return (self.q(name) or "").lower() in ("1", "true", "yes", "on")

    def qlist(self, *names: str) -> list[str]:
        return [x for name in names for v in self.query.get(name, []) for x in v.split(",") if x]

    def _length(self) -> int | None:
        if "chunked" in self.h.headers.get("Transfer-Encoding", "").lower():
            return None
        try:
            return int(self.h.headers.get("Content-Length") or 0)
        except ValueError:
            self.h.close_connection = True
            raise HubError(400, "Invalid Content-Length") from None

    def _has_body(self) -> bool:
        length = self._length()
        return length is None or length > 0

    def iter_body(self) -> Iterator[bytes]:
        """Yield the request body (Content-Length or chunked), enforcing ``max_body``."""
        if self._consumed:
            return
        self._consumed = True
        rfile, limit = self.h.rfile, self.hub.max_body
        length = self._length()
        if length is not None:
            if length > limit:
                self.h.close_connection = True
                raise HubError(413, "Payload Too Large")
            yield from _read_exactly(rfile, length)
            return
        total = 0
        while True:
            line = rfile.readline(65537)
            try:
                size = int(line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                self.h.close_connection = True
                raise HubError(400, "Invalid chunked encoding") from None
            if size == 0:
                while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return
            total += size
            if total > limit:
                self.h.close_connection = True
                raise HubError(413, "Payload Too Large")
            yield from _read_exactly(rfile, size)
            rfile.readline(3)

    def body(self) -> bytes:
        return b"".join(self.iter_body())

    def json(self) -> dict[str, Any]:
        raw = self.body()
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise HubError(400, "Invalid JSON body") from None
        if not isinstance(data, dict):
            raise HubError(400, "Expected a JSON object")
        return data

    def drain(self) -> None:
        """Discard an unread body (small ones only; otherwise close the connection after the response)."""
        if self._consumed or not self._has_body():
            self._consumed = True
            return
        length = self._length()
        if length is None or length > (1 << 20):
            self._consumed = True
            self.h.close_connection = True
            return
        for _ in self.iter_body():
            pass

    def read_partial(self) -> None:
        """Read about half of the body (for ``drop`` faults on uploads), then give up on the connection."""
        self._consumed = True
        self.h.close_connection = True
        length = self._length() or 0
        remaining = min(length // 2, 64 << 20)
        while remaining > 0:
            chunk = self.h.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, hub: HubServer) -> None:
        self.hub = hub
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HubStandIn/1.0"
    sys_version = ""
    timeout = 120

    @property
    def hub(self) -> HubServer:
        return cast(_HTTPServer, self.server).hub

    def setup(self) -> None:
        super().setup()
        self.hub._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.hub._track(self.connection, add=False)

    def log_message(self, fmt: str, *args: Any) -> None:  # never print request lines (query strings)
        pass

    def do_GET(self) -> None:
        self.hub._dispatch(self)

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_GET


class HubServer:
    """Threaded in-process Hub stand-in. ``start()`` returns the endpoint URL; usable as a context manager."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        tokens: Mapping[str, str] | None = None,
        *,
        read_tokens: set[str] | frozenset[str] = frozenset(),
        orgs: Mapping[str, list[str]] | None = None,
        max_requests: int = 5000,
        max_seconds: float = 300.0,
        max_body: int = 200 * 1024 * 1024,
        lfs_redirect: bool = False,
        tree_page_size: int = 1000,
    ) -> None:
        self.root = Path(root)
        self._tokens: dict[str, str] = dict(tokens or {})
        self._read_tokens = set(read_tokens)
        self.orgs = {k: list(v) for k, v in (orgs or {}).items()}
        self.max_requests, self.max_seconds, self.max_body = max_requests, max_seconds, max_body
        self.lfs_redirect, self.tree_page_size = lfs_redirect, tree_page_size
        self.faults: list[Fault] = []
        self.errors: list[str] = []  # tracebacks of unexpected handler errors (500)
        self._requests: list[dict[str, Any]] = []
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._redirects: dict[tuple[str, str], str] = {}
        self._tickets: dict[str, tuple[tuple[str, str], str, int, float]] = {}
        self._lock = threading.RLock()
        self._conns: set[socket.socket] = set()
        self._n_requests = 0
        self._secret = secrets.token_bytes(32)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self._stopped = threading.Event()
        for sub in ("blobs", "repos", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._load()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        """Bind 127.0.0.1 on a free port, serve in a daemon thread, arm the lifetime timer; return the endpoint."""
        if self._httpd is not None:
            return self.endpoint
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.max_seconds, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self.endpoint

    def stop(self) -> None:
        """Stop serving and close open connections (idempotent, callable from any thread)."""
        with self._lock:
            if self._stopped.is_set() or self._httpd is None:
                return
            self._stopped.set()
            httpd, timer = self._httpd, self._timer
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        if self._thread is not threading.current_thread():
            httpd.shutdown()
        httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> HubServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    # ------------------------------------------------------------------ test helpers
    def add_token(self, token: str, user: str, *, read_only: bool = False) -> None:
        with self._lock:
            self._tokens[token] = user
            (self._read_tokens.add if read_only else self._read_tokens.discard)(token)

    def fail_next(
        self,
        op: str = "any",
        status: int | None = 500,
        *,
        times: int = 1,
        drop: bool = False,
        truncate: int | None = None,
        after: bool = False,
        delay: float = 0.0,
        method: str | None = None,
        headers: Mapping[str, str] | None = None,
        message: str | None = None,
        error_code: str | None = None,
    ) -> Fault:
        """Arm a fault for the next ``times`` requests of ``op`` (see module docstring)."""
        if op != "any" and op not in OPS:
            raise ValueError(f"unknown op {op!r}; expected 'any' or one of {OPS}")
        fault = Fault(
            op,
            status,
            times,
            drop,
            truncate,
            after,
            delay,
            method.upper() if method else None,
            dict(headers or {}),
            message,
            error_code,
        )
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._requests)

    @property
    def request_count(self) -> int:
        """Requests received since start (``clear_requests`` does not reset it)."""
        with self._lock:
            return self._n_requests

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def grant_access(self, repo_id: str, user: str, repo_type: str = "model") -> None:
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            repo.granted.add(user)
            self._save_repo(repo)

    def repo_state(self, repo_id: str, repo_type: str = "model") -> dict[str, Any]:
        """Deep copy of a repo's refs and of the file map at each branch head (for assertions)."""
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            return copy.deepcopy(
                {
                    "private": repo.private,
                    "branches": repo.branches,
                    "tags": repo.tags,
                    "prs": repo.prs,
                    "lfs": sorted(repo.lfs),
                    "n_commits": len(repo.commits),
                    "files": {b: repo.commits[s]["files"] for b, s in repo.branches.items()},
                }
            )

    def file_content(self, repo_id: str, path: str, revision: str = "main", repo_type: str = "model") -> bytes:
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            sha = self._resolve_rev(repo, revision)
            if sha is None:
                raise KeyError(revision)
            entry = repo.commits[sha]["files"][path]
        return self._blob_path(entry["sha256"]).read_bytes()

    def commit_files(
        self,
        repo_id: str,
        files: Mapping[str, bytes],
        user: str,
        *,
        revision: str = "main",
        delete: tuple[str, ...] = (),
        private: bool = False,
        title: str = "test setup",
    ) -> str:
        """Commit ``files`` (and ``delete`` paths) to a model repo as ``user``, creating it if needed: test setup,
        as if pushed earlier (no HTTP). Returns the commit id."""
        with self._lock:
            repo = self._repos.get(("model", repo_id))
            if repo is None:
                repo = self._repos[("model", repo_id)] = _Repo("model", repo_id, private, _now_iso())
                files = {".gitattributes": DEFAULT_GITATTRIBUTES, **files}
            parent = repo.branches.get(revision)
            entries = dict(repo.commits[parent]["files"]) if parent else {}
            for path in delete:
                entries.pop(path, None)
            for path, data in files.items():
                sha256 = hashlib.sha256(data).hexdigest()
                self._store_blob(data, sha256)
                lfs = _matches(path, _LFS_PATTERNS) or b"\x00" in data[:1024]
                oid = _git_oid(_lfs_pointer(sha256, len(data)) if lfs else data)
                entries[path] = {"sha256": sha256, "size": len(data), "lfs": lfs, "oid": oid}
                if lfs:
                    repo.lfs.add(sha256)
            commit = self._new_commit([parent] if parent else [], title, "", user, entries)
            repo.commits[commit["id"]] = commit
            repo.branches[revision] = commit["id"]
            self._save_commit(repo, commit)
            self._save_repo(repo)
            return commit["id"]

    def seed(self, repo_id: str, folder: str | os.PathLike[str], user: str | None = None, private: bool = False) -> str:
        """A model repo holding ``folder``'s files (as its namespace pushed them): test setup, no HTTP."""
        folder = Path(folder)
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        return self.commit_files(repo_id, files, user or repo_id.split("/")[0], private=private, title="seed")

    def files(self, repo_id: str, revision: str = "main") -> list[str]:
        """The paths at a branch's head ([] for a missing repo or branch)."""
        with self._lock:
            repo = self._repos.get(("model", repo_id))
            head = repo.branches.get(revision) if repo else None
            return sorted(repo.commits[head]["files"]) if head else []

    def commits(self, repo_id: str, revision: str = "main") -> list[dict[str, Any]]:
        """A branch's history, oldest first: each commit's id, author, title and the paths it ``changed`` (added or
        rewritten) and ``deleted`` against its first parent."""
        with self._lock:
            repo = self._repos[("model", repo_id)]
            chain, sha = [], repo.branches.get(revision)
            while sha:
                commit = repo.commits[sha]
                chain.append(commit)
                sha = commit["parents"][0] if commit["parents"] else None
            history = []
            for commit in reversed(chain):
                parent = repo.commits[commit["parents"][0]]["files"] if commit["parents"] else {}
                now = commit["files"]
                history.append(
                    {
                        "id": commit["id"],
                        "author": commit["author"],
                        "title": commit["title"],
                        "changed": sorted(p for p in now if parent.get(p, {}).get("oid") != now[p]["oid"]),
                        "deleted": sorted(p for p in parent if p not in now),
                    }
                )
            return history

    def is_private(self, repo_id: str) -> bool:
        with self._lock:
            return self._repos[("model", repo_id)].private

    def read(self, repo_id: str, path: str, revision: str = "main") -> bytes:
        """A file's bytes at a revision (model repos)."""
        return self.file_content(repo_id, path, revision)

    # ------------------------------------------------------------------ persistence
    def _repo_dir(self, rtype: str, rid: str) -> Path:
        ns, name = rid.split("/")
        return self.root / "repos" / rtype / ns / name

    def _blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256[:2] / sha256

    def _write_atomic(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.root / "tmp" / f"{uuid.uuid4().hex}.part"
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def _store_blob(self, data: bytes, sha256: str) -> None:
        path = self._blob_path(sha256)
        if not path.exists():
            self._write_atomic(path, data)

    def _save_repo(self, repo: _Repo) -> None:
        self._write_atomic(self._repo_dir(repo.type, repo.id) / "repo.json", json.dumps(repo.meta(), indent=1).encode())

    def _save_commit(self, repo: _Repo, commit: dict[str, Any]) -> None:
        path = self._repo_dir(repo.type, repo.id) / "commits" / f"{commit['id']}.json"
        self._write_atomic(path, json.dumps(commit).encode())

    def _load(self) -> None:
        for meta_path in sorted((self.root / "repos").glob("*/*/*/repo.json")):
            meta = json.loads(meta_path.read_text())
            repo = _Repo(
                meta["type"],
                meta["id"],
                meta["private"],
                meta["created_at"],
                meta.get("sdk"),
                meta.get("gated", False),
                meta["branches"],
                meta.get("tags", {}),
                meta.get("prs", {}),
                set(meta.get("lfs", [])),
                set(meta.get("granted", [])),
            )
            for commit_path in (meta_path.parent / "commits").glob("*.json"):
                commit = json.loads(commit_path.read_text())
                repo.commits[commit["id"]] = commit
            self._repos[(repo.type, repo.id)] = repo

    # ------------------------------------------------------------------ request plumbing
    def _dispatch(self, h: _Handler) -> None:
        raw_path, _, query_string = h.path.partition("?")
        ctx = _Ctx(self, h, raw_path, query_string)
        entry: dict[str, Any] = {
            "time": time.time(),
            "method": h.command,
            "path": raw_path,
            "query": sorted(ctx.query),
            "range": h.headers.get("Range"),
            "op": None,
            "status": None,
        }
        resp: _Resp | None
        try:
            resp = self._process(ctx, entry)
        except HubError as e:
            headers = {"X-Error-Message": e.message, **e.headers}
            if e.code:
                headers["X-Error-Code"] = e.code
            resp = _json({"error": e.message, **e.extra}, e.status, headers)
        except Exception as e:  # answer 500 like a crashed backend; keep the traceback for tests
            with self._lock:
                self.errors.append(traceback.format_exc())
            resp = _json({"error": f"Internal server error ({type(e).__name__})"}, 500)
        if resp is None:
            entry["status"] = "dropped"
            h.close_connection = True
        else:
            entry["status"] = resp.status
            self._send(ctx, resp)
        entry["user"] = ctx.user  # who the Authorization header authenticated (never the token)
        with self._lock:
            self._requests.append(entry)

    def _process(self, ctx: _Ctx, entry: dict[str, Any]) -> _Resp | None:
        with self._lock:
            self._n_requests += 1
            over_budget = self._n_requests > self.max_requests
        if over_budget:
            stopper = threading.Timer(0.2, self.stop)  # let this 503 reach the client first
            stopper.daemon = True
            stopper.start()
            raise HubError(503, "Request budget of the test Hub exhausted; shutting down")
        route = self._route(ctx)
        entry["op"] = route.op
        fault = self._take_fault(route.op, ctx.method)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.truncate is not None:
                ctx.truncate = fault.truncate
            elif not fault.after and (fault.drop or fault.status is not None):
                return self._fault_response(ctx, fault, route.op)
        self._authenticate(ctx, route.op)
        if route.repo_ref is not None:
            redirect = self._moved_redirect(ctx, route.repo_ref)
            if redirect is not None:
                return redirect
        resp = route.fn(ctx, **route.kwargs)
        if fault is not None and fault.after and (fault.drop or fault.status is not None):
            ctx.drain()
            return self._fault_response(ctx, fault, route.op)
        return resp

    def _take_fault(self, op: str, method: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.op in ("any", op) and fault.method in (None, method):
                    fault.remaining -= 1
                    fault.fired += 1
                    return fault
        return None

    def _fault_response(self, ctx: _Ctx, fault: Fault, op: str) -> _Resp | None:
        if fault.drop:
            if op == "lfs_upload":
                ctx.read_partial()
            ctx.h.close_connection = True
            return None
        status = fault.status or 500
        message = fault.message or f"Injected fault: HTTP {status}"
        headers = {"X-Error-Message": message, **fault.headers}
        if fault.error_code:
            headers["X-Error-Code"] = fault.error_code
        return _json({"error": message}, status, headers)

    def _send(self, ctx: _Ctx, resp: _Resp) -> None:
        h = ctx.h
        try:
            ctx.drain()
        except (HubError, OSError):
            h.close_connection = True
        try:
            h.send_response(resp.status)
            headers = dict(resp.headers)
            trace = h.headers.get("X-Amzn-Trace-Id") or ""
            if _TRACE_RE.fullmatch(trace):
                headers.setdefault("X-Request-Id", trace)
            length = resp.length if resp.path is not None else len(resp.body)
            headers["Content-Length"] = str(length)
            if h.close_connection:
                headers["Connection"] = "close"
            for key, value in headers.items():
                h.send_header(key, _header_value(value))
            h.end_headers()
            if h.command != "HEAD":
                limit = length if ctx.truncate is None else min(ctx.truncate, length)
                if resp.path is not None:
                    with open(resp.path, "rb") as f:
                        f.seek(resp.start)
                        remaining = limit
                        while remaining > 0:
                            chunk = f.read(min(remaining, 1 << 20))
                            if not chunk:
                                break
                            h.wfile.write(chunk)
                            remaining -= len(chunk)
                else:
                    h.wfile.write(resp.body[:limit])
                if limit < length:
                    h.close_connection = True
            h.wfile.flush()
        except OSError:
            h.close_connection = True

    def _authenticate(self, ctx: _Ctx, op: str) -> None:
        if op in ("lfs_upload", "cdn"):  # pre-signed URLs: the client sends no Authorization header there
            return
        auth = ctx.h.headers.get("Authorization")
        if not auth:
            return
        scheme, _, token = auth.strip().partition(" ")
        token = token.strip()
        with self._lock:
            user = self._tokens.get(token) if scheme.lower() == "bearer" else None
            read_only = token in self._read_tokens
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        ctx.user, ctx.read_only = user, read_only

    def _moved_redirect(self, ctx: _Ctx, ref: tuple[str, str, int]) -> _Resp | None:
        rtype, rid, ns_index = ref
        with self._lock:
            target = self._redirects.get((rtype, rid)) if (rtype, rid) not in self._repos else None
        if target is None:
            return None
        raw = ctx.raw_path.split("/")[1:]
        raw[ns_index : ns_index + 2] = [quote(p, safe="") for p in target.split("/")]
        location = "/" + "/".join(raw) + (f"?{ctx.query_string}" if ctx.query_string else "")
        return _json({"error": "Repository moved"}, 307, {"Location": location})

    def _route(self, ctx: _Ctx) -> _Route:
        segs = [unquote(s) for s in ctx.raw_path.split("/")[1:]]
        m = ctx.method
        get = m in ("GET", "HEAD")
        if segs[:1] == ["api"]:
            if segs == ["api", "whoami-v2"] and get:
                return _Route("whoami", self._h_whoami)
            repos_routes = {
                ("create", "POST"): ("create_repo", self._h_create_repo),
                ("delete", "DELETE"): ("delete_repo", self._h_delete_repo),
                ("move", "POST"): ("move_repo", self._h_move_repo),
            }
            if len(segs) == 3 and segs[1] == "repos" and (segs[2], m) in repos_routes:
                op, fn = repos_routes[(segs[2], m)]
                return _Route(op, fn)
            if segs == ["api", "validate-yaml"] and m == "POST":
                return _Route("validate_yaml", self._h_validate_yaml)
            if len(segs) >= 2 and segs[1] in ("agent-harnesses", "telemetry"):
                return _Route("misc", self._h_misc, {"what": segs[1]})
            if len(segs) >= 4 and segs[1] in REPO_TYPES:
                return self._route_repo_api(m, REPO_TYPES[segs[1]], f"{segs[2]}/{segs[3]}", segs[4:])
            raise HubError(404, "Not Found")
        if len(segs) == 2 and segs[0] == "_lfs_upload" and m == "PUT":
            return _Route("lfs_upload", self._h_lfs_upload, {"oid": segs[1]})
        if len(segs) == 2 and segs[0] == "_cdn" and get:
            return _Route("cdn", self._h_cdn, {"sha256": segs[1]})
        if len(segs) >= 6 and segs[-4:-1] == ["info", "lfs", "objects"] and m == "POST":
            head = segs[:-4]
            rtype = "model"
            if len(head) == 3 and head[0] in ("datasets", "spaces"):
                rtype, head = REPO_TYPES[head[0]], head[1:]
            if len(head) == 2 and head[1].endswith(".git"):
                rid = f"{head[0]}/{head[1][:-4]}"
                if segs[-1] == "batch":
                    return _Route("lfs_batch", self._h_lfs_batch, {"rtype": rtype, "rid": rid})
                if segs[-1] == "verify":
                    return _Route("lfs_verify", self._h_lfs_verify, {"rtype": rtype, "rid": rid})
        if get and len(segs) >= 5 and segs[0] in ("datasets", "spaces") and segs[3] == "resolve":
            rtype, rid = REPO_TYPES[segs[0]], f"{segs[1]}/{segs[2]}"
            return _Route("resolve", self._h_resolve, {"rtype": rtype, "rid": rid, "rest": segs[4:]}, (rtype, rid, 1))
        if get and len(segs) >= 4 and segs[2] == "resolve":
            rid = f"{segs[0]}/{segs[1]}"
            return _Route(
                "resolve", self._h_resolve, {"rtype": "model", "rid": rid, "rest": segs[3:]}, ("model", rid, 0)
            )
        raise HubError(404, "Not Found")

    def _route_repo_api(self, m: str, rtype: str, rid: str, rest: list[str]) -> _Route:
        ref = (rtype, rid, 2)
        base = {"rtype": rtype, "rid": rid}
        if not rest and m in ("GET", "HEAD"):
            return _Route("repo_info", self._h_repo_info, {**base, "rev": None}, ref)
        sub, args = (rest[0], rest[1:]) if rest else ("", [])
        joined = "/".join(args)
        table: dict[tuple[str, str], tuple[str, Callable[..., _Resp], dict[str, Any]]] = {
            ("revision", "GET"): ("repo_info", self._h_repo_info, {"rev": joined}),
            ("tree", "GET"): ("tree", self._h_tree, {"rest": args}),
            ("paths-info", "POST"): ("paths_info", self._h_paths_info, {"rev": joined}),
            ("refs", "GET"): ("refs", self._h_refs, {}),
            ("commits", "GET"): ("commits", self._h_commits, {"rev": joined}),
            ("settings", "PUT"): ("settings", self._h_settings, {}),
            ("branch", "POST"): ("create_branch", self._h_branch, {"name": joined}),
            ("branch", "DELETE"): ("delete_branch", self._h_branch, {"name": joined}),
            ("tag", "POST"): ("create_tag", self._h_tag, {"name": joined}),
            ("tag", "DELETE"): ("delete_tag", self._h_tag, {"name": joined}),
            ("preupload", "POST"): ("preupload", self._h_preupload, {"rev": joined}),
            ("commit", "POST"): ("commit", self._h_commit, {"rev": joined}),
        }
        key = (sub, "GET" if m == "HEAD" else m)
        if key not in table:
            raise HubError(404, "Not Found")  # includes xet-read-token / xet-write-token: Xet is never offered
        op, fn, kwargs = table[key]
        return _Route(op, fn, {**base, **kwargs}, ref)

    # ------------------------------------------------------------------ access control and revisions
    def _is_owner(self, user: str | None, namespace: str) -> bool:
        return user is not None and (user == namespace or user in self.orgs.get(namespace, ()))

    def _visible_repo(self, rtype: str, rid: str, user: str | None) -> _Repo:
        repo = self._repos.get((rtype, rid))
        if repo is None or (repo.private and not self._is_owner(user, rid.split("/")[0])):
            raise _repo_not_found(user)
        return repo

    @staticmethod
    def _require_user(ctx: _Ctx) -> str:
        if ctx.user is None:
            raise HubError(401, "You must be authenticated to perform this action")
        return ctx.user

    def _check_write(self, ctx: _Ctx, repo: _Repo) -> None:
        user = self._require_user(ctx)
        if not self._is_owner(user, repo.id.split("/")[0]):
            raise HubError(403, f"You don't have write access to {repo.type} {repo.id}")
        if ctx.read_only:
            raise HubError(403, "This token has read-only access")

    def _check_gated(self, repo: _Repo, user: str | None) -> None:
        if repo.gated and not self._is_owner(user, repo.id.split("/")[0]) and user not in repo.granted:
            raise HubError(401 if user is None else 403, f"Access to {repo.id} is restricted (gated)", "GatedRepo")

    @staticmethod
    def _resolve_rev(repo: _Repo, rev: str) -> str | None:
        for refs, prefix in ((repo.branches, "refs/heads/"), (repo.tags, "refs/tags/")):
            name = rev.removeprefix(prefix)
            if name in refs:
                return refs[name]
        if rev in repo.prs:
            return repo.prs[rev]
        low = rev.lower()
        if _HEX40.fullmatch(low):
            return low if low in repo.commits else None
        if 7 <= len(low) < 40 and re.fullmatch(r"[0-9a-f]+", low):
            hits = [c for c in repo.commits if c.startswith(low)]
            return hits[0] if len(hits) == 1 else None
        return None

    def _rev_or_404(self, repo: _Repo, rev: str | None) -> str:
        sha = self._resolve_rev(repo, rev or "main")
        if sha is None:
            raise _rev_not_found(rev or "main")
        return sha

    def _split_rev_path(self, repo: _Repo, rest: list[str]) -> tuple[str, str]:
        """Split ``rest`` into (commit, path), accepting revisions whose ``/`` were not percent-encoded."""
        for k in range(1, len(rest) + 1):
            sha = self._resolve_rev(repo, "/".join(rest[:k]))
            if sha is not None:
                return sha, "/".join(rest[k:])
        raise _rev_not_found(rest[0] if rest else "")

    def _repo_url(self, base: str, rtype: str, rid: str) -> str:
        return f"{base}/{URL_PREFIXES[rtype]}{rid}"

    def _cdn_url(self, ctx: _Ctx, sha256: str, filename: str) -> str:
        sig = hmac.new(self._secret, sha256.encode(), hashlib.sha256).hexdigest()
        return f"http://localhost:{self.port}/_cdn/{sha256}?{urlencode({'sig': sig, 'filename': filename})}"

    # ------------------------------------------------------------------ tree helpers
    @staticmethod
    def _dir_oid(files: Mapping[str, dict[str, Any]], prefix: str) -> str:
        items = sorted((p, e["oid"]) for p, e in files.items() if p.startswith(prefix + "/"))
        return hashlib.sha1(json.dumps(items).encode()).hexdigest()

    @staticmethod
    def _last_commit(repo: _Repo, sha: str, path: str, is_dir: bool) -> dict[str, str]:
        def signature(commit_sha: str) -> Any:
            files = repo.commits[commit_sha]["files"]
            if is_dir:
                return sorted((p, e["oid"]) for p, e in files.items() if p.startswith(path + "/"))
            entry = files.get(path)
            return entry["oid"] if entry else None

        cur, sig = sha, signature(sha)
        while repo.commits[cur]["parents"] and signature(repo.commits[cur]["parents"][0]) == sig:
            cur = repo.commits[cur]["parents"][0]
        commit = repo.commits[cur]
        return {"id": cur, "title": commit["title"], "date": commit["date"]}

    def _entry_json(self, repo: _Repo, sha: str, path: str, is_dir: bool, expand: bool) -> dict[str, Any]:
        files = repo.commits[sha]["files"]
        if is_dir:
            out: dict[str, Any] = {"type": "directory", "oid": self._dir_oid(files, path), "size": 0, "path": path}
        else:
            e = files[path]
            out = {"type": "file", "oid": e["oid"], "size": e["size"], "path": path}
            if e["lfs"]:
                out["lfs"] = {
                    "oid": e["sha256"],
                    "size": e["size"],
                    "pointerSize": len(_lfs_pointer(e["sha256"], e["size"])),
                }
            if expand:
                out["securityFileStatus"] = {
                    "status": "safe",
                    "avScan": {"virusFound": False, "virusNames": None},
                    "pickleImportScan": None,
                }
        if expand:
            out["lastCommit"] = self._last_commit(repo, sha, path, is_dir)
        return out

    # ------------------------------------------------------------------ handlers: account & repos
    def _h_whoami(self, ctx: _Ctx) -> _Resp:
        if ctx.user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        user = ctx.user
        orgs = [
            {
                "type": "org",
                "name": o,
                "fullname": o,
                "roleInOrg": "write",
                "id": hashlib.sha1(o.encode()).hexdigest()[:24],
            }
            for o, members in self.orgs.items()
            if user in members
        ]
        return _json(
            {
                "type": "user",
                "id": hashlib.sha1(user.encode()).hexdigest()[:24],
                "name": user,
                "fullname": user,
                "email": f"{user}@example.invalid",
                "emailVerified": True,
                "isPro": False,
                "canPay": False,
                "orgs": orgs,
                "auth": {
                    "type": "access_token",
                    "accessToken": {"displayName": "test-token", "role": "read" if ctx.read_only else "write"},
                },
            }
        )

    def _h_misc(self, ctx: _Ctx, what: str) -> _Resp:
        ctx.drain()
        return _json({"standardEnvVars": [], "harnesses": {}} if what == "agent-harnesses" else {})

    def _h_validate_yaml(self, ctx: _Ctx) -> _Resp:
        ctx.json()
        return _json({"errors": [], "warnings": []})

    def _h_create_repo(self, ctx: _Ctx) -> _Resp:
        user = self._require_user(ctx)
        data = ctx.json()
        if ctx.read_only:
            raise HubError(403, "This token has read-only access")
        rtype = data.get("type") or "model"
        if rtype not in URL_PREFIXES:
            raise HubError(400, f"Invalid repo type: {rtype}")
        name, ns = data.get("name"), data.get("organization") or user
        for part in (name, ns):
            if not isinstance(part, str) or not _NAME_RE.fullmatch(part) or "--" in part or ".." in part:
                raise HubError(400, f"Invalid repo name: {ns}/{name}")
        if not self._is_owner(user, ns):
            raise HubError(403, f'You don\'t have the rights to create a {rtype} under the namespace "{ns}"')
        if rtype == "space" and not data.get("sdk"):
            raise HubError(400, "sdk is required for a Space")
        visibility = data.get("visibility")
        private = visibility == "private" if visibility else bool(data.get("private"))
        rid = f"{ns}/{name}"
        url = self._repo_url(ctx.base, rtype, rid)
        with self._lock:
            if (rtype, rid) in self._repos:
                raise HubError(409, f"You already created this {rtype} repo", extra={"url": url})
            repo = _Repo(rtype, rid, private, _now_iso(), sdk=data.get("sdk"))
            attrs = DEFAULT_GITATTRIBUTES
            self._store_blob(attrs, hashlib.sha256(attrs).hexdigest())
            files = {
                ".gitattributes": {
                    "sha256": hashlib.sha256(attrs).hexdigest(),
                    "size": len(attrs),
                    "lfs": False,
                    "oid": _git_oid(attrs),
                }
            }
            commit = self._new_commit([], "initial commit", "", user, files)
            repo.commits[commit["id"]] = commit
            repo.branches["main"] = commit["id"]
            self._save_commit(repo, commit)
            self._save_repo(repo)
            self._repos[(rtype, rid)] = repo
            self._redirects.pop((rtype, rid), None)
        return _json({"url": url, "name": rid, "id": rid})

    def _h_delete_repo(self, ctx: _Ctx) -> _Resp:
        user = self._require_user(ctx)
        data = ctx.json()
        rtype = data.get("type") or "model"
        rid = f"{data.get('organization') or user}/{data.get('name')}"
        with self._lock:
            repo = self._visible_repo(rtype, rid, user)
            self._check_write(ctx, repo)
            del self._repos[(rtype, rid)]
            shutil.rmtree(self._repo_dir(rtype, rid), ignore_errors=True)
        return _json({})

    def _h_move_repo(self, ctx: _Ctx) -> _Resp:
        user = self._require_user(ctx)
        data = ctx.json()
        rtype, src, dst = data.get("type") or "model", data.get("fromRepo"), data.get("toRepo")
        if not isinstance(dst, str) or dst.count("/") != 1 or not all(_NAME_RE.fullmatch(p) for p in dst.split("/")):
            raise HubError(400, f"Invalid target repo id: {dst!r}")
        with self._lock:
            repo = self._visible_repo(rtype, str(src), user)
            self._check_write(ctx, repo)
            if not self._is_owner(user, dst.split("/")[0]):
                raise HubError(403, f"You don't have the rights to move a repo to {dst}")
            if (rtype, dst) in self._repos:
                raise HubError(409, f"A {rtype} repo named {dst} already exists")
            old_dir, new_dir = self._repo_dir(rtype, repo.id), self._repo_dir(rtype, dst)
            new_dir.parent.mkdir(parents=True, exist_ok=True)
            os.replace(old_dir, new_dir)
            del self._repos[(rtype, repo.id)]
            self._redirects[(rtype, repo.id)] = dst
            repo.id = dst
            self._repos[(rtype, dst)] = repo
            self._save_repo(repo)
        return _json({})

    def _h_settings(self, ctx: _Ctx, rtype: str, rid: str) -> _Resp:
        data = ctx.json()
        with self._lock:
            repo = self._visible_repo(rtype, rid, ctx.user)
            self._check_write(ctx, repo)
            if "visibility" in data:
                repo.private = data["visibility"] == "private"
            if "private" in data:
                repo.private = bool(data["private"])
            if "gated" in data:
                if data["gated"] not in ("auto", "manual", False):
                    raise HubError(400, f"Invalid gated value: {data['gated']!r}")
                repo.gated = data["gated"]
            self._save_repo(repo)
        return _json({})

    # ------------------------------------------------------------------ handlers: reading
    def _info_json(self, ctx: _Ctx, repo: _Repo, sha: str) -> dict[str, Any]:
        commit = repo.commits[sha]
        files = commit["files"]
        blobs = ctx.qbool("blobs")
        siblings = []
        for path in sorted(files):
            e = files[path]
            sib: dict[str, Any] = {"rfilename": path}
            if blobs:
                sib.update(size=e["size"], blobId=e["oid"])
                if e["lfs"]:
                    sib["lfs"] = {
                        "size": e["size"],
                        "sha256": e["sha256"],
                        "pointerSize": len(_lfs_pointer(e["sha256"], e["size"])),
                    }
            siblings.append(sib)
        ns = repo.id.split("/")[0]
        data: dict[str, Any] = {
            "_id": hashlib.sha1(f"{repo.type}/{repo.id}".encode()).hexdigest()[:24],
            "id": repo.id,
            "author": ns,
            "sha": sha,
            "lastModified": commit["date"],
            "createdAt": repo.created_at,
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
            "usedStorage": sum(e["size"] for e in files.values()),
        }
        if repo.type == "model":
            data.update(modelId=repo.id, downloads=0, spaces=[])
        elif repo.type == "dataset":
            data.update(downloads=0, description="")
        else:
            sub = repo.id.replace("/", "-").replace(".", "-").lower()
            data.update(sdk=repo.sdk, subdomain=sub, host=f"https://{sub}.hf.space")
        if ctx.qbool("securityStatus"):
            data["securityRepoStatus"] = {"scansDone": True, "filesWithIssues": []}
        expand = ctx.qlist("expand", "expand[]")
        if expand:
            data = {k: v for k, v in data.items() if k in ("_id", "id") or k in expand}
        return data

    def _h_repo_info(self, ctx: _Ctx, rtype: str, rid: str, rev: str | None) -> _Resp:
        with self._lock:
            repo = self._visible_repo(rtype, rid, ctx.user)
            sha = self._rev_or_404(repo, rev)
            return _json(self._info_json(ctx, repo, sha))

    def _h_tree(self, ctx: _Ctx, rtype: str, rid: str, rest: list[str]) -> _Resp:
        expand, recursive = ctx.qbool("expand"), ctx.qbool("recursive")
        with self._lock:
            repo = self._visible_repo(rtype, rid, ctx.user)
            sha, path = self._split_rev_path(repo, rest) if rest else (self._rev_or_404(repo, "main"), "")
            path = path.strip("/")
            files = repo.commits[sha]["files"]
            if path in files:
                raise _entry_not_found(f"{path} is a file, not a directory", sha)
            pre = f"{path}/" if path else ""
            dirs: set[str] = set()
            out_files: list[str] = []
            for p in sorted(files):
                if not p.startswith(pre):
                    continue
                parts = p[len(pre) :].split("/")
                if recursive:
                    dirs.update(pre + "/".join(parts[:i]) for i in range(1, len(parts)))
                    out_files.append(p)
                elif len(parts) == 1:
                    out_files.append(p)
                else:
                    dirs.add(pre + parts[0])
            if path and not dirs and not out_files:
                raise _entry_not_found(f"Entry not found: {path}", sha)
            items = [(d, True) for d in sorted(dirs)] + [(f, False) for f in out_files]
            page_size = 50 if expand else max(1, self.tree_page_size)
            try:
                offset = int(ctx.q("cursor") or 0)
            except ValueError:
                raise HubError(400, "Invalid cursor") from None
            page = [self._entry_json(repo, sha, p, d, expand) for p, d in items[offset : offset + page_size]]
        headers = {}
        if offset + page_size < len(items):
            query = {k: v for k, v in ctx.query.items() if k != "cursor"}
            query["cursor"] = [str(offset + page_size)]
            headers["Link"] = f'<{ctx.base}{ctx.raw_path}?{urlencode(query, doseq=True)}>; rel="next"'
        return _json(page, headers=headers)

    def _h_paths_info(self, ctx: _Ctx, rtype: str, rid: str, rev: str) -> _Resp:
        raw = ctx.body().decode("utf-8", "replace")
        if "application/json" in ctx.h.headers.get("Content-Type", ""):
            try:
                data = json.loads(raw or "{}")
            except ValueError:
                raise HubError(400, "Invalid JSON body") from None
            form = {k: [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in data.items()}
        else:
            form = parse_qs(raw, keep_blank_values=True)
        expand = (form.get("expand", ["false"])[-1]).lower() in ("1", "true")
        with self._lock:
            repo = self._visible_repo(rtype, rid, ctx.user)
            sha = self._rev_or_404(repo, rev)
            files = repo.commits[sha]["files"]
            out = []
            for p in dict.fromkeys(str(x).strip("/") for x in form.get("paths", [])):
                if p in files:
                    out.append(self._entry_json(repo, sha, p, False, expand))
                elif p and any(f.startswith(p + "/") for f in files):
                    out.append(self._entry_json(repo, sha, p, True, expand))
            return _json(out)

    def _h_refs(self, ctx: _Ctx, rtype: str, rid: str) -> _Resp:
        with self._lock:
            repo = self._visible_repo(rtype, rid, ctx.user)
            data: dict[str, Any] = {
                "branches": [
                    {"name": n, "ref": f"refs/heads/{n}", "targetCommit": s} for n, s in repo.branches.items()
                ],
                "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": s} for n, s in repo.tags.items()],
                "converts": [],
            }
            if ctx.qbool("include_prs"):
                data["pullRequests"] = [{"name": r, "ref": r, "targetCommit": s} for r, s in repo.prs.items()]
            return _json(data)

    def _h_commits(self, ctx: _Ctx, rtype: str, rid: str, rev: str) -> _Resp:
        with self._lock:
            repo = self._visible_repo(rtype, rid, ctx.user)
            cur: str | None = self._rev_or_404(repo, rev)
            out = []
            while cur is not None:
                c = repo.commits[cur]
                out.append(
                    {
                        "id": cur,
                        "title": c["title"],
                        "message": c["message"],
                        "date": c["date"],
                        "authors": [{"user": c["author"]}],
                    }
                )
                cur = c["parents"][0] if c["parents"] else None
            return _json(out)

    def _h_resolve(self, ctx: _Ctx, rtype: str, rid: str, rest: list[str]) -> _Resp:
        with self._lock:
            repo = self._visible_repo(rtype, rid, ctx.user)
            sha, path = self._split_rev_path(repo, rest)
            self._check_gated(repo, ctx.user)
            entry = repo.commits[sha]["files"].get(path)
            if entry is None:
                raise _entry_not_found(f"Entry not found: {path}", sha)
            entry = dict(entry)
        name = path.rsplit("/", 1)[-1]
        headers = {
            "X-Repo-Commit": sha,
            "Accept-Ranges": "bytes",
            "Vary": "Origin, Accept",
            "Content-Type": mimetypes.guess_type(name)[0] or "application/octet-stream",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}; filename=\"{quote(name)}\"",
        }
        if entry["lfs"]:
            headers["X-Linked-Etag"] = f'"{entry["sha256"]}"'
            headers["X-Linked-Size"] = str(entry["size"])
            if self.lfs_redirect:
                headers["ETag"] = f'"{entry["oid"]}"'
                headers["Location"] = self._cdn_url(ctx, entry["sha256"], name)
                return _Resp(302, b"", headers)
            headers["ETag"] = f'"{entry["sha256"]}"'
        else:
            headers["ETag"] = f'"{entry["oid"]}"'
        return self._file_resp(ctx, entry["sha256"], entry["size"], headers)

    def _h_cdn(self, ctx: _Ctx, sha256: str) -> _Resp:
        expected = hmac.new(self._secret, sha256.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, ctx.q("sig") or ""):
            raise HubError(403, "Signature does not match")
        path = self._blob_path(sha256)
        if not path.is_file():
            raise HubError(404, "NoSuchKey")
        name = ctx.q("filename") or sha256
        headers = {
            "ETag": f'"{sha256}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}; filename=\"{quote(name)}\"",
        }
        return self._file_resp(ctx, sha256, path.stat().st_size, headers)

    def _file_resp(self, ctx: _Ctx, sha256: str, size: int, headers: dict[str, str]) -> _Resp:
        path = self._blob_path(sha256)
        rng = ctx.h.headers.get("Range")
        span = _parse_range(rng, size) if rng else None
        if span is None:
            return _Resp(200, headers=headers, path=path, start=0, length=size)
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return _Resp(206, headers=headers, path=path, start=start, length=end - start + 1)

    # ------------------------------------------------------------------ handlers: refs
    def _h_branch(self, ctx: _Ctx, rtype: str, rid: str, name: str) -> _Resp:
        data = ctx.json() if ctx.method == "POST" else {}
        with self._lock:
            repo = self._visible_repo(rtype, rid, ctx.user)
            self._check_write(ctx, repo)
            if ctx.method == "DELETE":
                if name not in repo.branches:
                    raise _rev_not_found(name)
                if name == "main":
                    raise HubError(403, "Cannot delete the default branch")
                del repo.branches[name]
            else:
                if not name or name.startswith(("refs/", "/")) or ".." in name or name.endswith("/") or " " in name:
                    raise HubError(400, f"Invalid branch name: {name!r}")
                if name in repo.branches:
                    raise HubError(409, f"Reference already exists: refs/heads/{name}")
                repo.branches[name] = self._rev_or_404(repo, data.get("startingPoint") or "main")
            self._save_repo(repo)
        return _json({})

    def _h_tag(self, ctx: _Ctx, rtype: str, rid: str, name: str) -> _Resp:
        data = ctx.json() if ctx.method == "POST" else {}
        with self._lock:
            repo = self._visible_repo(rtype, rid, ctx.user)
            self._check_write(ctx, repo)
            if ctx.method == "DELETE":
                if name not in repo.tags:
                    raise _rev_not_found(name)
                del repo.tags[name]
            else:
                tag = data.get("tag")
                if not isinstance(tag, str) or not tag or tag.startswith("refs/") or ".." in tag:
                    raise HubError(400, f"Invalid tag name: {tag!r}")
                if tag in repo.tags:
                    raise HubError(409, f"Reference already exists: refs/tags/{tag}")
                repo.tags[tag] = self._rev_or_404(repo, name)
            self._save_repo(repo)
        return _json({})

    # ------------------------------------------------------------------ handlers: upload
    def _blob_text(self, entry: dict[str, Any] | None) -> str:
        if entry is None or entry["size"] > MAX_REGULAR_FILE:
            return ""
        path = self._blob_path(entry["sha256"])
        return path.read_text("utf-8", "replace") if path.is_file() else ""

    def _h_preupload(self, ctx: _Ctx, rtype: str, rid: str, rev: str) -> _Resp:
        user = self._require_user(ctx)
        data = ctx.json()
        if not isinstance(data.get("files"), list):
            raise HubError(400, "Missing 'files' list")
        with self._lock:
            repo = self._visible_repo(rtype, rid, user)
            if not ctx.qbool("create_pr"):
                self._check_write(ctx, repo)
            sha = self._rev_or_404(repo, rev)
            files = repo.commits[sha]["files"]
            attrs = self._blob_text(files.get(".gitattributes"))
            lfs_patterns = [ln.split()[0] for ln in attrs.splitlines() if "filter=lfs" in ln and ln.split()]
            gitignore = data.get("gitIgnore")
            if not isinstance(gitignore, str):
                gitignore = self._blob_text(files.get(".gitignore"))
            ignore = [ln.strip() for ln in gitignore.splitlines() if ln.strip() and ln.strip()[0] not in "#!"]
            out = []
            for f in data["files"]:
                if not isinstance(f, dict):
                    raise HubError(400, "Invalid file entry")
                path = _check_path(f.get("path"))
                try:
                    sample = base64.b64decode(f.get("sample") or "", validate=True)
                    size = int(f.get("size") or 0)
                except (binascii.Error, ValueError, TypeError):
                    raise HubError(400, f"Invalid sample or size for {path}") from None
                lfs = size > 0 and (b"\x00" in sample or size > MAX_REGULAR_FILE or _matches(path, lfs_patterns))
                existing = files.get(path)
                oid = None if existing is None else existing["sha256" if existing["lfs"] else "oid"]
                out.append(
                    {
                        "path": path,
                        "uploadMode": "lfs" if lfs else "regular",
                        "shouldIgnore": _matches(path, ignore),
                        "oid": oid,
                    }
                )
        return _json({"files": out, "commitOid": sha})

    def _h_lfs_batch(self, ctx: _Ctx, rtype: str, rid: str) -> _Resp:
        data = ctx.json()
        operation = data.get("operation")
        with self._lock:
            repo = self._visible_repo(rtype, rid, ctx.user)
            if operation == "upload":
                self._check_write(ctx, repo)
            elif operation == "download":
                self._check_gated(repo, ctx.user)
            else:
                raise HubError(400, f"Invalid operation: {operation!r}")
            objects = []
            for obj in data.get("objects") or []:
                oid, size = obj.get("oid"), obj.get("size")
                if not isinstance(oid, str) or not _HEX64.fullmatch(oid) or not isinstance(size, int) or size < 0:
                    objects.append(
                        {
                            "oid": str(oid),
                            "size": size if isinstance(size, int) else 0,
                            "error": {"code": 422, "message": "Invalid oid or size"},
                        }
                    )
                    continue
                present = oid in repo.lfs and self._blob_path(oid).is_file()
                item: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
                if operation == "download":
                    if present:
                        item["actions"] = {"download": {"href": self._cdn_url(ctx, oid, oid), "expires_in": 3600}}
                    else:
                        item = {"oid": oid, "size": size, "error": {"code": 404, "message": "Object does not exist"}}
                elif not present:
                    ticket = secrets.token_urlsafe(24)
                    self._tickets[ticket] = ((rtype, rid), oid, size, time.time() + 3600)
                    verify = f"{ctx.base}/{URL_PREFIXES[rtype]}{rid}.git/info/lfs/objects/verify"
                    item["actions"] = {
                        "upload": {"href": f"{ctx.base}/_lfs_upload/{oid}?ticket={ticket}", "expires_in": 3600},
                        "verify": {"href": verify, "expires_in": 3600},
                    }
                objects.append(item)
        return _json(
            {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
            headers={"Content-Type": "application/vnd.git-lfs+json"},
        )

    def _h_lfs_upload(self, ctx: _Ctx, oid: str) -> _Resp:
        ticket = ctx.q("ticket") or ""
        with self._lock:
            info = self._tickets.get(ticket)
        if info is None or info[1] != oid or info[3] < time.time():
            raise HubError(403, "Invalid or expired upload URL")
        key, _, size, _ = info
        tmp = self.root / "tmp" / f"{uuid.uuid4().hex}.upload"
        digest, n = hashlib.sha256(), 0
        try:
            with open(tmp, "wb") as f:
                for chunk in ctx.iter_body():
                    digest.update(chunk)
                    f.write(chunk)
                    n += len(chunk)
            if n != size or digest.hexdigest() != oid:
                raise HubError(400, f"Uploaded content does not match (expected {size} bytes with sha256 {oid})")
            with self._lock:
                path = self._blob_path(oid)
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, path)
                repo = self._repos.get(key)
                if repo is not None and oid not in repo.lfs:
                    repo.lfs.add(oid)
                    self._save_repo(repo)
        finally:
            tmp.unlink(missing_ok=True)
        return _Resp(200, b"", {"ETag": f'"{oid[:32]}"'})

    def _h_lfs_verify(self, ctx: _Ctx, rtype: str, rid: str) -> _Resp:
        data = ctx.json()
        oid, size = data.get("oid"), data.get("size")
        with self._lock:
            repo = self._visible_repo(rtype, rid, ctx.user)
            ok = isinstance(oid, str) and oid in repo.lfs and self._blob_path(oid).is_file()
            if not ok or self._blob_path(str(oid)).stat().st_size != size:
                raise HubError(404, f"Object {oid} not found (or size mismatch)")
        return _json({"success": True})

    def _new_commit(self, parents: list[str], title: str, message: str, author: str, files: dict) -> dict[str, Any]:
        date = _now_iso()
        seed = json.dumps(
            [parents, title, message, author, date, time.time_ns(), sorted((p, e["oid"]) for p, e in files.items())]
        ).encode()
        return {
            "id": hashlib.sha1(seed).hexdigest(),
            "parents": parents,
            "title": title,
            "message": message,
            "author": author,
            "date": date,
            "files": files,
        }

    def _h_commit(self, ctx: _Ctx, rtype: str, rid: str, rev: str) -> _Resp:
        user = self._require_user(ctx)
        create_pr = ctx.qbool("create_pr")
        lines = []
        for i, raw in enumerate(ctx.body().splitlines()):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
            except ValueError:
                raise HubError(400, f"Invalid JSON on line {i + 1} of the commit payload") from None
            if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
                raise HubError(400, f"Invalid item on line {i + 1}: expected {{'key', 'value'}}")
            lines.append(item)
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "The first line of the commit payload must be the header")
        header = lines[0]["value"]
        summary = header.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            raise HubError(400, "Commit summary is required")
        with self._lock:
            repo = self._visible_repo(rtype, rid, user)
            if create_pr:
                if ctx.read_only:
                    raise HubError(403, "This token has read-only access")
            else:
                self._check_write(ctx, repo)
            if rev in repo.branches or rev in repo.prs:
                head = repo.branches.get(rev) or repo.prs[rev]
            elif self._resolve_rev(repo, rev) is not None:
                raise HubError(400, f"Revision {rev} is not a branch: commits can only be pushed to branches")
            else:
                raise _rev_not_found(rev)
            base_sha = head
            parent = header.get("parentCommit")
            if parent is not None:
                parent = str(parent).lower()
                if create_pr:
                    base_sha = self._rev_or_404(repo, parent)
                elif not head.startswith(parent):
                    raise HubError(412, "A commit has happened since. Please refresh and try again.")
            files = copy.deepcopy(repo.commits[base_sha]["files"])
            new_blobs: dict[str, bytes] = {}
            missing: list[str] = []
            for item in lines[1:]:
                key, value = item.get("key"), item["value"]
                if key == "file":
                    path = _check_path(value.get("path"))
                    content = value.get("content")
                    if not isinstance(content, str):
                        raise HubError(400, f"Missing content for {path}")
                    if value.get("encoding", "base64") == "base64":
                        try:
                            blob = base64.b64decode(content, validate=True)
                        except binascii.Error:
                            raise HubError(400, f"Invalid base64 content for {path}") from None
                    else:
                        blob = content.encode()
                    if len(blob) > MAX_REGULAR_FILE:
                        raise HubError(
                            400,
                            "Your push was rejected because it contains files larger than 10 MiB. "
                            f"Please use https://git-lfs.github.com/ to store large files. ({path})",
                        )
                    sha256 = hashlib.sha256(blob).hexdigest()
                    new_blobs[sha256] = blob
                    files[path] = {"sha256": sha256, "size": len(blob), "lfs": False, "oid": _git_oid(blob)}
                elif key == "lfsFile":
                    path = _check_path(value.get("path"))
                    oid = str(value.get("oid", "")).lower()
                    if value.get("algo", "sha256") != "sha256" or not _HEX64.fullmatch(oid):
                        raise HubError(400, f"Invalid LFS oid for {path}")
                    blob_path = self._blob_path(oid)
                    if oid not in repo.lfs or not blob_path.is_file():
                        missing.append(path)
                        continue
                    size = blob_path.stat().st_size
                    if value.get("size") is not None and value.get("size") != size:
                        raise HubError(400, f"LFS object size mismatch for {path}: {value.get('size')} != {size}")
                    files[path] = {"sha256": oid, "size": size, "lfs": True, "oid": _git_oid(_lfs_pointer(oid, size))}
                elif key == "deletedFile":
                    path = _check_path(value.get("path"))
                    if path not in files:
                        raise _entry_not_found(f"A file with this name doesn't exist: {path}", head)
                    del files[path]
                elif key == "deletedFolder":
                    folder = _check_path(str(value.get("path", "")).strip("/"))
                    victims = [p for p in files if p.startswith(folder + "/")]
                    if not victims:
                        raise _entry_not_found(f"A folder with this name doesn't exist: {folder}", head)
                    for p in victims:
                        del files[p]
                else:
                    raise HubError(400, f"Unknown commit operation key: {key!r}")
            if missing:
                raise HubError(
                    400,
                    "Your push was rejected because an LFS pointer pointed to a file that does not "
                    "exist. Offending file(s):\n" + "\n".join(f"- {p}" for p in missing),
                )
            for path in files:
                parts = path.split("/")
                for i in range(1, len(parts)):
                    if "/".join(parts[:i]) in files:
                        raise HubError(400, f"Path conflict: {'/'.join(parts[:i])} is a file, cannot add {path}")
            for sha256, blob in new_blobs.items():
                self._store_blob(blob, sha256)
            description = header.get("description") or ""
            commit = self._new_commit([base_sha], summary, str(description), user, files)
            self._save_commit(repo, commit)
            saved = (dict(repo.branches), dict(repo.prs))
            pr_url = None
            try:
                if create_pr:
                    num = 1 + max((int(r.rsplit("/", 1)[1]) for r in repo.prs), default=0)
                    repo.prs[f"refs/pr/{num}"] = commit["id"]
                    pr_url = f"{self._repo_url(ctx.base, rtype, rid)}/discussions/{num}"
                elif rev in repo.branches:
                    repo.branches[rev] = commit["id"]
                else:
                    repo.prs[rev] = commit["id"]
                self._save_repo(repo)
            except BaseException:
                repo.branches, repo.prs = saved
                raise
            repo.commits[commit["id"]] = commit
        url = self._repo_url(ctx.base, rtype, rid)
        return _json(
            {
                "success": True,
                "commitOid": commit["id"],
                "commitUrl": f"{url}/commit/{commit['id']}",
                "commitMessage": summary,
                "hookOutput": "",
                "pullRequestUrl": pr_url,
            }
        )


def client_env(
    endpoint: str,
    *,
    token: str | None = None,
    home: str | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment for a fresh process running the real client against ``endpoint`` (set before import)."""
    env = dict(os.environ if base is None else base)
    for key in (
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HUGGINGFACE_CO_STAGING",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_TOKEN_PATH",
        "HF_XET_CACHE",
    ):
        env.pop(key, None)
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        DO_NOT_TRACK="1",
        HF_HUB_DISABLE_UPDATE_CHECK="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
    )
    if home is not None:
        env["HF_HOME"] = home
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def patch_client(endpoint: str) -> Callable[[], None]:
    """Point an already-imported ``huggingface_hub`` at ``endpoint``; return a function that undoes it.

    Patches ``constants.ENDPOINT``, ``constants.HUGGINGFACE_CO_URL_TEMPLATE`` (used by ``hf_hub_url``; patching only
    ``ENDPOINT`` would still send downloads to huggingface.co), ``constants.HF_HUB_DISABLE_XET``/``_TELEMETRY``, the
    module-level ``huggingface_hub.hf_api.api`` (behind ``huggingface_hub.create_repo`` & co.) and resets transformers'
    cached ``HfApi``. ``HfApi`` objects created before the call keep their old ``endpoint``: pass ``endpoint=`` to them.
    Not patched (computed at import, only used for cross-host redirects and URL parsing): ``HF_URL_HOSTS`` and
    ``huggingface_hub.utils._http._HUB_ORIGINS``. ``HF_HOME``/cache paths are not changed: pass ``cache_dir=``.
    """
    import sys

    from huggingface_hub import constants, hf_api

    template = endpoint.rstrip("/") + "/{repo_id}/resolve/{revision}/{filename}"
    saved = (
        constants.ENDPOINT,
        constants.HUGGINGFACE_CO_URL_TEMPLATE,
        constants.HF_HUB_DISABLE_XET,
        constants.HF_HUB_DISABLE_TELEMETRY,
        hf_api.api.endpoint,
    )
    constants.ENDPOINT, constants.HUGGINGFACE_CO_URL_TEMPLATE = endpoint.rstrip("/"), template
    constants.HF_HUB_DISABLE_XET = constants.HF_HUB_DISABLE_TELEMETRY = True
    hf_api.api.endpoint = endpoint.rstrip("/")
    hub_mod = sys.modules.get("transformers.utils.hub")
    if hub_mod is not None:
        hub_mod._hf_api = None  # type: ignore[attr-defined]

    def restore() -> None:
        (
            constants.ENDPOINT,
            constants.HUGGINGFACE_CO_URL_TEMPLATE,
            constants.HF_HUB_DISABLE_XET,
            constants.HF_HUB_DISABLE_TELEMETRY,
            hf_api.api.endpoint,
        ) = saved
        if hub_mod is not None:
            hub_mod._hf_api = None  # type: ignore[attr-defined]

    return restore
