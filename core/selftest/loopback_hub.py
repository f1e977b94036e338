"""A loopback Hugging Face Hub that the unmodified `huggingface_hub` 1.x client accepts.

Only the network edge is fake: the real client talks real HTTP to it. It serves what publishing uses:
whoami-v2, repo create, model info (by revision), preupload, commit (NDJSON, regular and LFS files),
the LFS "basic" batch transfer (PUT + verify) and HEAD/GET on /resolve/. The client must not use Xet:
HF_HUB_DISABLE_XET=1 (tests/conftest.py sets it before huggingface_hub is imported).

    hub = FakeHub(tokens={"hf_good": "alice"}).start()
    hub.fail("POST", "/commit/", 500)       # the next commit answers 500
    hub.received_bytes()                    # every path and body any client sent (secret checks)
    hub.files("alice/mira")                 # {path: bytes} at the head of main
    hub.stop()
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".png", ".jpg", ".jpeg", ".webp")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
GITATTRIBUTES = "".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n" for s in LFS_SUFFIXES).encode()


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Refusal(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra or {}


class FakeHub:
    def __init__(self, tokens: dict[str, str] | None = None, readonly_tokens: tuple[str, ...] = ()) -> None:
        self.tokens = dict(tokens or {"hf_fake_write_token_0123456789": "alice"})  # token -> user
        self.readonly = set(readonly_tokens)  # tokens that may read but not write
        self.repos: dict[str, dict] = {}  # "ns/name" -> {private, commits: {oid: commit}, head}
        self.blobs: dict[str, bytes] = {}  # LFS objects by sha256
        self.pending: dict[str, int] = {}
        self.commits_received: list[list[dict]] = []
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self._received: list[bytes] = []  # every request line and body (not the Authorization header)
        self._faults: list[list] = []  # [method, regex, status, remaining]
        self.stall_seconds = 0.0  # every answer waits this long (timeouts)
        self.lock = threading.RLock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # a client that gave up (timeouts) is expected
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    # --- lifecycle and test knobs ---
    def start(self) -> "FakeHub":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail(self, method: str, path_regex: str, status: int, count: int = 1) -> None:
        """Answer the next `count` requests matching method and path with `status`."""
        with self.lock:
            self._faults.append([method.upper(), re.compile(path_regex), status, count])

    def received_bytes(self) -> bytes:
        with self.lock:
            return b"\n".join(self._received)

    def head(self, repo_id: str) -> dict:
        repo = self.repos[repo_id]
        return repo["commits"][repo["head"]]

    def files(self, repo_id: str, revision: str | None = None) -> dict[str, bytes]:
        repo = self.repos[repo_id]
        commit = repo["commits"][revision or repo["head"]]
        return {path: self._data(entry) for path, entry in commit["files"].items()}

    def commit_count(self, repo_id: str) -> int:
        return len(self.repos[repo_id]["commits"])

    # --- helpers ---
    def _data(self, entry: dict) -> bytes:
        return self.blobs[entry["sha256"]] if entry["lfs"] else entry["data"]

    def _user(self, request, required: bool = False, write: bool = False) -> str | None:
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        user = self.tokens.get(token) if token else None
        if token and user is None:
            raise Refusal(401, "Invalid credentials in Authorization header")
        if required and user is None:
            raise Refusal(401, "You must be authenticated to do this")
        if write and token in self.readonly:
            raise Refusal(403, "This token has read access only")
        return user

    def _repo(self, repo_id: str, user: str | None, write: bool = False) -> dict:
        repo = self.repos.get(repo_id)
        if repo is None or (repo["private"] and user != repo["ns"]):
            raise Refusal(401 if user is None else 404, "Repository not found", "RepoNotFound")
        if write and user != repo["ns"]:
            raise Refusal(403, f"You don't have write access to {repo_id}")
        return repo

    def _commit(self, repo: dict, revision: str) -> dict:
        revision = unquote(revision)
        oid = repo["head"] if revision == "main" else revision
        if oid not in repo["commits"]:
            raise Refusal(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return repo["commits"][oid]

    def _new_commit(self, repo: dict, files: dict, summary: str) -> str:
        oid = hashlib.sha1(f"{repo['head']}{summary}{time.time_ns()}".encode()).hexdigest()
        repo["commits"][oid] = {"oid": oid, "parent": repo["head"], "summary": summary, "date": now(), "files": files}
        repo["head"] = oid
        return oid

    # --- endpoints ---
    def whoami(self, request, match):
        user = self._user(request, required=True)
        return 200, {"type": "user", "name": user, "fullname": user.title(), "orgs": [],
                     "auth": {"type": "access_token", "accessToken": {"displayName": "fake", "role": "write"}}}

    def create_repo(self, request, match):
        user = self._user(request, required=True, write=True)
        body = request.json()
        name, ns = body.get("name", ""), body.get("organization") or user
        if not NAME_RE.match(name) or "--" in name or ".." in name:
            raise Refusal(400, "Invalid repo name")
        if ns != user:
            raise Refusal(403, f'You don\'t have the rights to create a model under the namespace "{ns}"')
        repo_id = f"{ns}/{name}"
        if repo_id in self.repos:
            raise Refusal(409, "You already created this model repo", extra={"url": f"{self.url}/{repo_id}"})
        private = body.get("visibility", "private" if body.get("private") else "public") == "private"
        repo = {"ns": ns, "private": private, "created": now(), "commits": {}, "head": None}
        self._new_commit(repo, {".gitattributes": {"lfs": False, "data": GITATTRIBUTES, "size": len(GITATTRIBUTES),
                                                   "blob_id": git_sha1(GITATTRIBUTES)}}, "initial commit")
        self.repos[repo_id] = repo
        return 200, {"url": f"{self.url}/{repo_id}", "name": repo_id}

    def repo_info(self, request, match):
        repo_id = match.group(1)
        repo = self._repo(repo_id, self._user(request))
        commit = self._commit(repo, match.group(2) or "main")
        siblings = []
        for path, entry in sorted(commit["files"].items()):
            sibling = {"rfilename": path, "size": entry["size"], "blobId": entry["blob_id"]}
            if entry["lfs"]:
                sibling["lfs"] = {"size": entry["size"], "sha256": entry["sha256"], "pointerSize": 130}
            siblings.append(sibling)
        return 200, {"_id": hashlib.md5(repo_id.encode()).hexdigest()[:24], "id": repo_id, "author": repo["ns"],
                     "sha": commit["oid"], "lastModified": commit["date"], "createdAt": repo["created"],
                     "private": repo["private"], "gated": False, "disabled": False, "downloads": 0, "likes": 0,
                     "tags": [], "siblings": siblings}

    def tree(self, request, match):
        """The file list snapshot_download asks for (dataset room: model downloads with progress)."""
        repo = self._repo(match.group(1), self._user(request))
        commit = self._commit(repo, match.group(2))
        entries = []
        for path, entry in sorted(commit["files"].items()):
            item = {"type": "file", "path": path, "size": entry["size"], "oid": entry["blob_id"]}
            if entry["lfs"]:
                item["lfs"] = {"oid": entry["sha256"], "size": entry["size"], "pointerSize": 130}
            entries.append(item)
        return 200, entries

    def preupload(self, request, match):
        repo = self._repo(match.group(1), self._user(request, required=True, write=True), write=True)
        head = self._commit(repo, match.group(2))
        answer = []
        for item in request.json().get("files", []):
            sample = base64.b64decode(item.get("sample", ""))
            lfs = item["path"].lower().endswith(LFS_SUFFIXES) or b"\0" in sample
            current = head["files"].get(item["path"])
            oid = None if current is None else (current["sha256"] if current["lfs"] else current["blob_id"])
            answer.append({"path": item["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                           "oid": oid})
        return 200, {"files": answer, "commitOid": head["oid"]}

    def lfs_batch(self, request, match):
        self._repo(match.group(1), self._user(request, required=True, write=True), write=True)
        objects = []
        for obj in request.json().get("objects", []):
            oid, size = obj["oid"], obj["size"]
            entry = {"oid": oid, "size": size, "authenticated": True}
            if oid not in self.blobs:
                self.pending[oid] = size
                entry["actions"] = {"upload": {"href": f"{self.url}/__lfs/{oid}", "header": {}},
                                    "verify": {"href": f"{self.url}/{match.group(1)}.git/info/lfs/objects/verify",
                                               "header": {}}}
            objects.append(entry)
        return 200, {"transfer": "basic", "objects": objects, "hash_algo": "sha256"}

    def lfs_put(self, request, match):
        oid, data = match.group(1), request.body()
        if oid not in self.pending or hashlib.sha256(data).hexdigest() != oid or len(data) != self.pending[oid]:
            raise Refusal(400, "Uploaded content does not match the announced sha256/size")
        self.blobs[oid] = data
        del self.pending[oid]
        return 200, b""

    def lfs_verify(self, request, match):
        self._user(request, required=True)
        if request.json().get("oid") not in self.blobs:
            raise Refusal(404, "Object not found")
        return 200, {"success": True}

    def commit(self, request, match):
        repo_id = match.group(1)
        repo = self._repo(repo_id, self._user(request, required=True, write=True), write=True)
        head = self._commit(repo, match.group(2))
        lines = [json.loads(line) for line in request.body().splitlines() if line.strip()]
        header = next((line["value"] for line in lines if line.get("key") == "header"), {})
        if not header.get("summary"):
            raise Refusal(400, "A commit summary is required")
        if header.get("parentCommit") and header["parentCommit"] != head["oid"]:
            raise Refusal(412, "A commit has happened since. Please refresh and try again.")
        files = dict(head["files"])
        for line in lines:
            key, value = line.get("key"), line.get("value", {})
            path = value.get("path", "")
            if key == "file":
                data = base64.b64decode(value["content"]) if value.get("encoding") == "base64" else value["content"].encode()
                files[path] = {"lfs": False, "data": data, "size": len(data), "blob_id": git_sha1(data)}
            elif key == "lfsFile":
                oid = value.get("oid", "")
                if oid not in self.blobs:
                    raise Refusal(400, f"LFS pointer for {path} points to an object that was not uploaded")
                files[path] = {"lfs": True, "sha256": oid, "size": len(self.blobs[oid]), "blob_id": git_sha1(oid.encode())}
            elif key == "deletedFile":
                files.pop(path, None)
            elif key != "header":
                raise Refusal(400, f"Unknown commit operation {key!r}")
        oid = self._new_commit(repo, files, header["summary"])
        self.commits_received.append(lines)
        return 200, {"success": True, "commitOid": oid, "commitUrl": f"{self.url}/{repo_id}/commit/{oid}",
                     "hookOutput": "", "pullRequestUrl": None}

    def resolve(self, request, match):
        repo = self._repo(match.group(1), self._user(request))
        commit = self._commit(repo, match.group(2))
        entry = commit["files"].get(unquote(match.group(3)))
        headers = {"X-Repo-Commit": commit["oid"]}
        if entry is None:
            raise Refusal(404, "Entry not found", "EntryNotFound")
        headers["ETag"] = f'"{entry["sha256"] if entry["lfs"] else entry["blob_id"]}"'
        if entry["lfs"]:
            headers.update({"X-Linked-Etag": headers["ETag"], "X-Linked-Size": str(entry["size"])})
        return 200, self._data(entry), headers

    ROUTES = (
        ("GET", r"/api/whoami-v2", whoami),
        ("GET", r"/api/agent-harnesses", lambda self, r, m: (200, {"standardEnvVars": [], "harnesses": {}})),
        ("POST", r"/api/validate-yaml", lambda self, r, m: (200, {"errors": [], "warnings": []})),
        ("POST", r"/api/repos/create", create_repo),
        ("GET", r"/api/models/([^/]+/[^/]+?)(?:/revision/([^/]+))?", repo_info),
        ("GET", r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/.*)?", tree),
        ("POST", r"/api/models/([^/]+/[^/]+)/preupload/([^/]+)", preupload),
        ("POST", r"/api/models/([^/]+/[^/]+)/commit/([^/]+)", commit),
        ("POST", r"/([^/]+/[^/]+)\.git/info/lfs/objects/batch", lfs_batch),
        ("POST", r"/([^/]+/[^/]+)\.git/info/lfs/objects/verify", lfs_verify),
        ("PUT", r"/__lfs/([0-9a-f]{64})", lfs_put),
        ("GET|HEAD", r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", resolve),
    )

    def dispatch(self, request, method: str) -> None:
        path = urlsplit(request.path).path
        body = request.body()
        with self.lock:
            self._received.append(f"{method} {request.path}".encode() + b"\n" + body)
        if self.stall_seconds:
            time.sleep(self.stall_seconds)
        headers: dict[str, str] = {}
        try:
            with self.lock:
                for fault in self._faults:
                    if fault[3] > 0 and fault[0] == method and fault[1].search(path):
                        fault[3] -= 1
                        extra = {"Retry-After": "1"} if fault[2] == 429 else {}
                        raise Refusal(fault[2], "Injected fault", extra=extra)
                for methods, pattern, handler in self.ROUTES:
                    match = re.fullmatch(pattern, path)
                    if match and method in methods.split("|"):
                        result = handler(self, request, match)
                        break
                else:
                    raise Refusal(404, f"No route for {method} {path}")
            status, payload = result[0], result[1]
            headers = result[2] if len(result) > 2 else {}
        except Refusal as refusal:
            status, payload = refusal.status, {"error": refusal.message, **refusal.extra}
            headers = {"X-Error-Message": refusal.message, **({"X-Error-Code": refusal.code} if refusal.code else {})}
            if "Retry-After" in refusal.extra:
                headers["Retry-After"] = refusal.extra["Retry-After"]
        except Exception as error:  # a bug here still answers, as a 500
            status, payload = 500, {"error": f"fake hub internal error: {error!r}"}
        self.requests.append((method, path, status))
        request.respond(status, payload, headers, head=method == "HEAD")


def _handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def body(self) -> bytes:
            if getattr(self, "_body", None) is None:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while (size := int(self.rfile.readline().split(b";")[0].strip(), 16)) > 0:
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    self._body = b"".join(chunks)
                else:
                    self._body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            return self._body

        def json(self) -> dict:
            try:
                return json.loads(self.body() or b"{}")
            except ValueError:
                raise Refusal(400, "Body is not valid JSON") from None

        def respond(self, status, payload, headers, head=False) -> None:
            if isinstance(payload, (dict, list)):
                payload, kind = json.dumps(payload).encode(), "application/json"
            else:
                kind = "application/octet-stream"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(payload)

        def _serve(self, method: str) -> None:
            self._body = None  # one handler object serves every request of a keep-alive connection
            hub.dispatch(self, method)

        def log_message(self, *args) -> None:
            pass

        def do_GET(self):
            self._serve("GET")

        def do_HEAD(self):
            self._serve("HEAD")

        def do_POST(self):
            self._serve("POST")

        def do_PUT(self):
            self._serve("PUT")

    return Handler
