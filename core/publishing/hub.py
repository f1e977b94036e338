"""The Hugging Face Hub side of publishing: who the token belongs to, the repo, one commit per version.

- `whoami` checks HF_TOKEN before anything is sent and returns the account name (never the token).
- `ensure_repo` creates the repo with the chosen visibility (Runware can only fetch from a PUBLIC repo).
- `commit_version` makes ONE `create_commit` for a Publication, with `parent_commit` set to the head it
  compared against, and makes none when every file is already there with the same content.
- `pinned_url` is the download URL fixed to a commit sha: what Runware fetches and the publish record keeps.

`translate` turns every failure of a Hub call (huggingface_hub's typed HTTP errors, timeouts, sockets) into a
core.errors.HubError subclass (HubAuthError, HubRepoExists, ...), which carries the sentence a person reads.
Every request is bounded by timeouts (huggingface_hub's own client has none).

huggingface_hub and httpx are imported in the functions that talk to the Hub (a quarter of a second), so the CLI
and the app's other tabs start without them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.errors import (HubAuthError, HubCommitConflict, HubConnectionError, HubError, HubPermissionError,
                         HubRateLimited, HubRepoExists, HubRepoNotFound, HubTimeout, HubTokenMissing)
from core.publishing.upload import Publication
from core.settings import Settings, redact

log = logging.getLogger("core.publishing.hub")

DEFAULT_ENDPOINT = "https://huggingface.co"
TIMEOUTS = dict(connect=15.0, read=120.0, write=300.0, pool=30.0)
MANAGED_PREFIXES = ("samples/",)  # files a new version replaces as a set (old samples are removed)


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
    """The download URL of `filename` fixed to `commit`: what Runware fetches and the publish record keeps."""
    from huggingface_hub import hf_hub_url

    return hf_hub_url(repo_id, filename, revision=commit, endpoint=endpoint(settings))


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
    """A huggingface_hub.HfApi for the settings' endpoint and token, every request bounded by TIMEOUTS."""
    import httpx
    import huggingface_hub

    global _client_ready
    if not _client_ready:
        def bounded_client() -> httpx.Client:
            return httpx.Client(event_hooks={"request": [huggingface_hub.utils._http.hf_request_event_hook]},
                                follow_redirects=True, timeout=httpx.Timeout(**TIMEOUTS))

        huggingface_hub.set_client_factory(bounded_client)
        _client_ready = True
    if not settings.hf_token:
        raise HubTokenMissing()
    return huggingface_hub.HfApi(endpoint=endpoint(settings), token=settings.hf_token)


def translate(error: Exception, action: str, repo_id: str = "") -> HubError:
    """Our typed HubError for a failed Hub call; `action` says what was being done ("create the repo x/y")."""
    import httpx
    from huggingface_hub.errors import (DisabledRepoError, GatedRepoError, HfHubHTTPError, RemoteEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    if isinstance(error, HubError):
        return error
    log.warning("Hub %s failed: %s", action, redact(error))
    fields = {"action": action, "repo_id": repo_id}
    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code if error.response is not None else None
        fields["status"] = status
        if isinstance(error, (GatedRepoError, DisabledRepoError)):
            return HubPermissionError(**fields)
        if isinstance(error, (RepositoryNotFoundError, RevisionNotFoundError, RemoteEntryNotFoundError)):
            return HubRepoNotFound(**fields)
        by_status = {401: HubAuthError, 403: HubPermissionError, 404: HubRepoNotFound, 409: HubRepoExists,
                     412: HubCommitConflict, 429: HubRateLimited}
        return by_status.get(status, HubError)(**fields)  # 5xx and the rest: HubError's own sentence
    if isinstance(error, httpx.TimeoutException):
        return HubTimeout(**fields)
    if isinstance(error, (httpx.TransportError, OSError)):
        return HubConnectionError(**fields)
    return HubError(f"The Hub call to {action} failed: {redact(error)}.", "Details are in outputs/logs/app.log.",
                    **fields)


def whoami(settings: Settings) -> Account:
    api = _api(settings)
    try:
        info = api.whoami()
    except Exception as error:
        raise translate(error, "check your token") from None
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
        failure = translate(error, f"create the repo {repo_id}", repo_id)
        if not (allow_existing and isinstance(failure, HubRepoExists)):
            raise failure from None
    return RepoState(repo_id, repo_url(settings, repo_id), repo_private(settings, repo_id), created=False)


def repo_private(settings: Settings, repo_id: str) -> bool:
    try:
        return bool(_api(settings).model_info(repo_id).private)
    except Exception as error:
        raise translate(error, f"read the repo {repo_id}", repo_id) from None


def remote_state(settings: Settings, repo_id: str, revision: str = "main") -> tuple[str, dict[str, str]]:
    """(head commit sha, {path: content id}) where the id is the LFS sha256 or the git blob sha1."""
    try:
        info = _api(settings).model_info(repo_id, revision=revision, files_metadata=True)
    except Exception as error:
        raise translate(error, f"read the repo {repo_id}", repo_id) from None
    files = {}
    for sibling in info.siblings or []:
        lfs = getattr(sibling, "lfs", None)
        files[sibling.rfilename] = f"sha256:{lfs.sha256}" if lfs else f"git:{sibling.blob_id}"
    return info.sha, files


def commit_version(settings: Settings, repo_id: str, publication: Publication, message: str) -> CommitResult:
    """One atomic commit of `publication` on top of the current head, or none when nothing changed."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete
    from huggingface_hub.utils.sha import git_hash

    publication.check()
    head, remote = remote_state(settings, repo_id)
    operations, changed = [], []
    for item in publication.files:
        if remote.get(item.path) not in (f"sha256:{item.sha256}", f"git:{git_hash(item.data)}"):
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
        raise translate(error, f"upload the new version to {repo_id}", repo_id) from None
    return CommitResult(repo_id, info.oid, info.commit_url, unchanged=False, changed_paths=tuple(changed))
