"""The Hugging Face Hub side of publishing: who the token belongs to, the repo, one commit per version.

- `whoami` checks HF_TOKEN before anything is sent and returns the account name (never the token).
- `ensure_repo` creates the repo with the chosen visibility (Runware can only fetch from a PUBLIC repo).
- `commit_version` makes ONE `create_commit` for a Publication, with `parent_commit` set to the head it
  compared against, and makes none when every file is already there with the same content.
- `pinned_url` is the download URL fixed to a commit sha: what Runware fetches and the publish record keeps.

Every Hub failure becomes a HubError with one sentence of what happened and what to do. Every request is
bounded by timeouts (huggingface_hub's own client has none).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from core.errors import AppError
from core.publishing.upload import Publication
from core.settings import Settings, redact

log = logging.getLogger("core.publishing.hub")

DEFAULT_ENDPOINT = "https://huggingface.co"
TIMEOUTS = dict(connect=15.0, read=120.0, write=300.0, pool=30.0)
MANAGED_PREFIXES = ("samples/",)  # files a new version replaces as a set (old samples are removed)


class HubError(AppError):
    """A Hub request failed; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, todo: str = "", status: int | None = None) -> None:
        super().__init__(message, todo)
        self.status = status


@dataclass(frozen=True)
class Account:
    name: str
    can_write: bool
    orgs: tuple[str, ...] = ()


@dataclass(frozen=True)
class RepoState:
    repo_id: str
    url: str
    private: bool
    created: bool  # True when this call created it


@dataclass(frozen=True)
class CommitResult:
    repo_id: str
    commit: str  # the sha of the commit holding this version
    url: str  # the commit's page
    unchanged: bool  # True: the repo already held exactly these files, no commit was made
    changed_paths: tuple[str, ...] = ()


def endpoint(settings: Settings) -> str:
    return (settings.hf_endpoint or DEFAULT_ENDPOINT).rstrip("/")


def pinned_url(settings: Settings, repo_id: str, commit: str, filename: str) -> str:
    return f"{endpoint(settings)}/{repo_id}/resolve/{commit}/{filename}"


def repo_url(settings: Settings, repo_id: str) -> str:
    return f"{endpoint(settings)}/{repo_id}"


_client_ready = False


def set_timeouts(**seconds: float) -> None:
    """Change the bounds of every Hub request (connect, read, write, pool); applies to the next request."""
    global _client_ready
    unknown = set(seconds) - set(TIMEOUTS)
    if unknown:
        raise ValueError(f"unknown timeouts: {sorted(unknown)}")
    TIMEOUTS.update(seconds)
    _client_ready = False


def _api(settings: Settings):
    global _client_ready
    import huggingface_hub
    import httpx

    if not _client_ready:
        def bounded_client() -> httpx.Client:
            return httpx.Client(event_hooks={"request": [huggingface_hub.utils._http.hf_request_event_hook]},
                                follow_redirects=True, timeout=httpx.Timeout(**TIMEOUTS))

        huggingface_hub.set_client_factory(bounded_client)
        _client_ready = True
    if not settings.hf_token:
        raise HubError("HF_TOKEN is not set, so nothing can be published to the Hugging Face Hub.",
                       "Create a token with write access at https://huggingface.co/settings/tokens, put HF_TOKEN=... "
                       "in .env and restart the app.")
    return huggingface_hub.HfApi(endpoint=endpoint(settings), token=settings.hf_token)


def explain(error: Exception, action: str, repo_id: str = "") -> HubError:
    """One sentence (and what to do) for a failed Hub call."""
    if isinstance(error, HubError):
        return error
    import httpx

    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    where = f" {repo_id}" if repo_id else ""
    log.warning("Hub %s failed: %s", action, redact(error))
    if status == 401:
        return HubError(f"The Hub refused HF_TOKEN while trying to {action} (invalid or expired token).",
                        "Create a new token with write access at https://huggingface.co/settings/tokens and put it in "
                        ".env as HF_TOKEN.", status)
    if status == 403:
        return HubError(f"Your token may not write to{where or ' this repo'} on the Hub (trying to {action}).",
                        "Use a token with the 'write' role, or a repo name under your own account.", status)
    if status == 404:
        return HubError(f"The Hub repo{where} was not found (trying to {action}).",
                        "Check the repo name, or let publishing create it.", status)
    if status == 409:
        return HubError(f"The repo name{where} is already taken on your account.",
                        "Pick another repo name, or tick 'Add a new version to an existing repo' (CLI: --existing).", status)
    if status == 412:
        return HubError(f"Someone committed to{where} while this version was being prepared.",
                        "Publish again: the new commit will build on the latest one.", status)
    if status == 429:
        return HubError(f"The Hub is rate-limiting this account (trying to {action}).",
                        "Wait a few minutes and publish again; finished steps are not repeated.", status)
    if status is not None and status >= 500:
        return HubError(f"The Hub had a server error ({status}) while trying to {action}.",
                        "Publish again in a few minutes; finished steps are not repeated.", status)
    if status is not None:
        return HubError(f"The Hub answered {status} while trying to {action}.",
                        "Check the repo name and publish again; details are in outputs/logs/app.log.", status)
    if isinstance(error, httpx.TimeoutException):
        return HubError(f"The Hub did not answer in time while trying to {action}.",
                        "Check your internet connection and publish again; finished steps are not repeated.")
    if isinstance(error, (httpx.TransportError, OSError)):
        return HubError(f"Could not reach the Hub while trying to {action}.",
                        "Check your internet connection and publish again.")
    return HubError(f"The Hub call to {action} failed: {redact(error)}.", "Details are in outputs/logs/app.log.")


def whoami(settings: Settings) -> Account:
    api = _api(settings)
    try:
        info = api.whoami()
    except Exception as error:
        raise explain(error, "check your token") from None
    role = ((info.get("auth") or {}).get("accessToken") or {}).get("role")
    orgs = tuple(org.get("name", "") for org in info.get("orgs") or [])
    return Account(name=info.get("name", "?"), can_write=role in (None, "write", "fineGrained", "admin"), orgs=orgs)


def ensure_repo(settings: Settings, repo_id: str, *, private: bool, allow_existing: bool) -> RepoState:
    """Create the model repo; an existing one is accepted only with `allow_existing` (a new version)."""
    api = _api(settings)
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=False)
        return RepoState(repo_id, repo_url(settings, repo_id), private, created=True)
    except Exception as error:
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status != 409 or not allow_existing:
            raise explain(error, f"create the repo {repo_id}", repo_id) from None
    return RepoState(repo_id, repo_url(settings, repo_id), repo_private(settings, repo_id), created=False)


def repo_private(settings: Settings, repo_id: str) -> bool:
    try:
        return bool(_api(settings).model_info(repo_id).private)
    except Exception as error:
        raise explain(error, f"read the repo {repo_id}", repo_id) from None


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def remote_state(settings: Settings, repo_id: str, revision: str = "main") -> tuple[str, dict[str, str]]:
    """(head commit sha, {path: content id}) where the id is the LFS sha256 or the git blob sha1."""
    try:
        info = _api(settings).model_info(repo_id, revision=revision, files_metadata=True)
    except Exception as error:
        raise explain(error, f"read the repo {repo_id}", repo_id) from None
    files = {}
    for sibling in info.siblings or []:
        lfs = getattr(sibling, "lfs", None)
        files[sibling.rfilename] = f"sha256:{lfs.sha256}" if lfs else f"git:{sibling.blob_id}"
    return info.sha, files


def commit_version(settings: Settings, repo_id: str, publication: Publication, message: str) -> CommitResult:
    """One atomic commit of `publication` on top of the current head, or none when nothing changed."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    publication.check()
    head, remote = remote_state(settings, repo_id)
    operations, changed = [], []
    for item in publication.files:
        if remote.get(item.path) not in (f"sha256:{item.sha256}", f"git:{_git_blob_id(item.data)}"):
            operations.append(CommitOperationAdd(path_in_repo=item.path, path_or_fileobj=item.data))
            changed.append(item.path)
    ours = set(publication.paths())
    for path in sorted(remote):
        if path.startswith(MANAGED_PREFIXES) and path not in ours:
            operations.append(CommitOperationDelete(path_in_repo=path))
            changed.append(path)
    if not operations:
        return CommitResult(repo_id, head, f"{repo_url(settings, repo_id)}/commit/{head}", unchanged=True)
    try:
        info = _api(settings).create_commit(repo_id, operations, commit_message=message, parent_commit=head)
    except Exception as error:
        raise explain(error, f"upload the new version to {repo_id}", repo_id) from None
    return CommitResult(repo_id, info.oid, info.commit_url, unchanged=False, changed_paths=tuple(changed))


def has_commit(settings: Settings, repo_id: str, commit: str) -> bool:
    """Whether `commit` exists in the repo (a recorded commit survived)."""
    try:
        _api(settings).model_info(repo_id, revision=commit)
        return True
    except Exception as error:
        if getattr(getattr(error, "response", None), "status_code", None) == 404:
            return False
        raise explain(error, f"read the repo {repo_id}", repo_id) from None
