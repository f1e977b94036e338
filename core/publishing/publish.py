"""Publishing a chosen checkpoint: one Hub commit, then a Runware model waited until ready.

    for event in publish(settings, PublishRequest(run_id, repo_id="alice/mira-lora"), cancel):
        print(event.message)                      # the last event's result is the version record

Stages: check the token -> build the allowlisted files -> create/find the repo -> one commit (none when nothing
changed) -> record -> register on Runware (public repos only) -> record. Every stage is written to the run's
publish record (RunPaths.publish_json) as soon as it is done, so running the same publish again after any
failure continues from there: the commit is not repeated for unchanged files, the Runware version number is
kept for the same adapter, and a ready model is not uploaded again.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from core import storage
from core.checkpoints import store as checkpoints
from core.checkpoints.store import Chosen
from core.dataset.images import list_images
from core.models import adapters
from core.publishing import hub, model_card, upload as publication
from core.publishing.record import PublishedVersion, PublishRecord, read_record, save_version
from core.publishing.registration import register_version
from core.errors import AppError, NotFound, PublishError
from core.progress import Cancellation, Progress
from core.runs.paths import run_paths, RunPaths
from core.settings import redact, Settings
from core.workspace import Workspace, workspace_from

STAGES = 7
PUBLIC_ONLY = "Runware can only download from a PUBLIC Hub repo"


@dataclass
class PublishRequest:
    run_id: str
    repo_id: str | None = None  # "name" or "owner/name"; default from the run
    private: bool = False
    # Publish into a repo that already exists: True yes, False never, None only when this workspace published
    # there before (so a repo of another character is never overwritten by a typo).
    allow_existing: bool | None = None
    adapter: Path | None = None  # instead of the chosen checkpoint (tests, CLI --adapter)
    step: int | None = None  # choose this checkpoint first (the Checkpoints tab's "choose", from the CLI)
    strength: float | None = None
    trigger: str | None = None
    samples: list[Path] = field(default_factory=list)
    card_text: str | None = None  # the edited card; default: the saved draft, else the generated card
    runware: bool = True
    air: str | None = None  # "source:id" (remembered) or "source:id@version"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# --- inputs ---

def chosen(paths: RunPaths, request: PublishRequest | None = None) -> Chosen:
    """The adapter to publish: --adapter if given, else the checkpoint chosen in the Checkpoints tab."""
    trigger = (request.trigger if request and request.trigger is not None else paths.read_record().trigger) or ""
    strength = request.strength if request and request.strength is not None else None
    if request and request.adapter:
        adapter = Path(request.adapter)
        if not adapter.is_file():
            raise NotFound(f"The adapter file {adapter} does not exist.", "Give the path of a .safetensors adapter.")
        return Chosen(adapter, adapters.sha256(adapter), None, 1.0 if strength is None else strength, trigger, paths.run_id)
    if request and request.step is not None:
        checkpoints.choose(paths.workspace, paths.run_id, request.step, 1.0 if strength is None else strength)
    picked = checkpoints.read_chosen(paths)
    if picked is None:
        raise PublishError(f"No checkpoint of run {paths.run_id} is chosen for publishing yet.",
                           "Pick one in the Checkpoints tab (Choose for publishing), then publish again.")
    return replace(picked, adapter_path=Path(picked.adapter_path), strength=picked.strength if strength is None else strength,
                   trigger=request.trigger if request and request.trigger else picked.trigger or trigger)


def default_repo_name(paths: RunPaths) -> str:
    base = paths.read_record().dataset or paths.run_id
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(base)).strip("-.") or "character"
    return f"{name}-flux2-klein-lora"[:90]


def full_repo_id(repo: str | None, account: str, paths: RunPaths) -> str:
    repo = (repo or "").strip() or default_repo_name(paths)
    repo_id = repo if "/" in repo else f"{account}/{repo}"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]{0,95}", repo_id) or "--" in repo_id:
        raise PublishError(f"'{repo_id}' is not a valid Hub repo name.",
                           "Use owner/name with letters, numbers, '-', '_' or '.' (no spaces, no '--').")
    return repo_id


def sample_candidates(workspace: Workspace, paths: RunPaths, limit: int = 40) -> list[Path]:
    """Images the person may show on the card: the run's grids and previews, then Local Generate's, newest first."""
    found = []
    for folder in (paths.root, workspace.generations_dir):
        if folder.is_dir():
            found += [p for p in list_images(folder, recursive=True) if "trash" not in p.parts]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return found[:limit]


def sample_prompt(image: Path, trigger: str) -> str:
    """The prompt an image was made with, from a settings file beside it, else the trigger word."""
    for sidecar in (image.with_suffix(".json"), image.with_suffix(".txt")):
        if sidecar.is_file():
            if sidecar.suffix == ".json":
                data = storage.read_json(sidecar, default={}) or {}
                prompt = data.get("prompt") or (data.get("settings") or {}).get("prompt")
            else:
                prompt = sidecar.read_text(encoding="utf-8", errors="ignore").strip()
            if prompt:
                return redact(str(prompt))[:500]
    return trigger


def card_info(paths: RunPaths, repo_id: str, pick: Chosen, samples: list[Path]) -> model_card.CardInfo:
    config = storage.read_json(paths.train_json, default={}) or {}
    flat = {}
    for key, value in publication.public_config(config).items():
        flat.update(value if isinstance(value, dict) else {key: value})
    optimizer = config.get("optimizer")
    if isinstance(optimizer, dict) and optimizer.get("name"):
        flat["optimizer"] = optimizer["name"]
    targets = (config.get("lora_layers") or {}).get("targets") if isinstance(config.get("lora_layers"), dict) else None
    if targets and isinstance(targets[0], dict) and "rank" in targets[0]:
        flat["rank"] = targets[0]["rank"]
    return model_card.CardInfo(repo_id=repo_id, trigger=pick.trigger, strength=pick.strength, step=pick.step,
                               sample_prompts=[sample_prompt(s, pick.trigger) for s in samples], settings=flat)


def draft_card(settings: Settings, request: PublishRequest, account: str = "you") -> tuple[str, bool]:
    """The card that would be published (the saved draft or a generated one) and whether it was edited."""
    paths = run_paths(workspace_from(settings), request.run_id, must_exist=True)
    draft = model_card.read_draft(paths)
    if draft is not None and draft.strip():  # the person's text, even before a checkpoint is chosen
        return draft, True
    pick = chosen(paths, request)
    repo_id = full_repo_id(request.repo_id, account, paths)
    return model_card.card_for(paths, card_info(paths, repo_id, pick, list(request.samples)))


# --- the record (core.publishing.record) ---

def _version_entry(paths: RunPaths, repo_id: str, sha256: str) -> PublishedVersion:
    found = read_record(paths).find(repo_id, sha256)
    return found or PublishedVersion(id=f"{repo_id}@{sha256[:12]}", repo_id=repo_id, sha256=sha256, started=_now())


def known_repo(workspace: Workspace, repo_id: str) -> bool:
    """Whether any run of this workspace has published to `repo_id` (a new version there is expected)."""
    for record_path in workspace.runs_dir.glob("*/publish.json"):
        if any(v.repo_id == repo_id for v in PublishRecord.load(record_path).versions):
            return True
    return False


def _runware_memory(workspace: Workspace) -> Path:
    return workspace.outputs_dir / "runware.json"


def assign_air(workspace: Workspace, repo_id: str, air: str | None, entry: PublishedVersion) -> str:
    """`source:id@version` for this version: the base asked once per repo, the version counted per publish."""
    if entry.air:
        return entry.air
    memory = storage.read_json(_runware_memory(workspace), default={}) or {}
    bases = memory.setdefault("air_by_repo", {})
    counters = memory.setdefault("last_version", {})
    given = (air or "").strip()
    match = re.fullmatch(r"([a-z0-9_-]+):([A-Za-z0-9_.-]+)(?:@(\d+))?", given) if given else None
    if given and not match:
        raise PublishError(f"'{given}' is not a Runware AIR source and id.",
                           "Type it as source:id (for example mysource:mira), the source you created on Runware.")
    base = f"{match.group(1)}:{match.group(2)}" if match else bases.get(repo_id)
    if not base:
        raise PublishError("Runware needs the AIR source and id for this LoRA (source:id).",
                           "Type it once in the AIR field (the source you created in the Runware dashboard).")
    version = int(match.group(3)) if match and match.group(3) else int(counters.get(base, 0)) + 1
    bases[repo_id] = base
    counters[base] = max(version, int(counters.get(base, 0)))
    storage.write_json(_runware_memory(workspace), memory)
    return f"{base}@{version}"


def remembered_air(workspace: Workspace, repo_id: str) -> str:
    memory = storage.read_json(_runware_memory(workspace), default={}) or {}
    return (memory.get("air_by_repo") or {}).get(repo_id, "")


# --- the orchestration ---

def publish(settings: Settings, request: PublishRequest, cancel: Cancellation | None = None) -> Iterator[Progress]:
    cancel = cancel or Cancellation()
    workspace = workspace_from(settings)
    paths = run_paths(workspace, request.run_id, must_exist=True)

    yield Progress(0, STAGES, "Checking your Hugging Face token…", {"stage": "token"})
    account = hub.whoami(settings)
    if not account.can_write:
        raise hub.HubError(f"The token of {account.name} can only read.", "Create a token with the 'write' role.")
    repo_id = full_repo_id(request.repo_id, account.name, paths)
    pick = chosen(paths, request)
    yield Progress(1, STAGES, f"Signed in as {account.name}; publishing to {repo_id}.",
                   {"stage": "token", "account": account.name, "repo_id": repo_id})
    cancel.check()

    samples = list(request.samples)
    info = card_info(paths, repo_id, pick, samples)
    card = request.card_text if request.card_text is not None else model_card.card_for(paths, info)[0]
    card = model_card.retarget(card, repo_id, info.sample_prompts, pick.trigger)
    model_card.validate(card)
    files = publication.build(pick.adapter_path, card, samples, storage.read_json(paths.train_json, default=None))
    if files.adapter.sha256 != pick.sha256:
        raise PublishError("The adapter file changed since it was chosen.", "Choose the checkpoint again, then publish.")
    entry = _version_entry(paths, repo_id, pick.sha256)
    entry.update(step=pick.step, strength=pick.strength, trigger=pick.trigger, files=files.summary(),
                 account=account.name, error=None)
    yield Progress(2, STAGES, f"{len(files.files)} files ready: {', '.join(files.paths())}.",
                   {"stage": "files", "files": files.summary()})
    cancel.check()

    try:
        allow = request.allow_existing if request.allow_existing is not None else known_repo(workspace, repo_id)
        repo = hub.ensure_repo(settings, repo_id, private=request.private, allow_existing=allow)
        entry.update(private=repo.private, repo_url=repo.url, hub_status=entry.hub_status or "repo ready")
        save_version(paths, entry)  # from now on this repo is ours: a retry after a crash may add to it
        yield Progress(3, STAGES, f"{'Created' if repo.created else 'Using'} the {'private' if repo.private else 'public'} "
                       f"repo {repo_id}.", {"stage": "repo", "repo_id": repo_id, "private": repo.private})
        cancel.check()
        size = sum(f.size for f in files.files) / 1e6
        yield Progress(3, STAGES, f"Uploading to {repo_id} ({size:.1f} MB; files already on the Hub are skipped)…",
                       {"stage": "upload", "megabytes": round(size, 2)})
        done = hub.commit_version(settings, repo_id, files, _commit_message(pick, entry))
    except AppError as error:
        entry.update(hub_status="failed", error=str(error), finished=_now())
        save_version(paths, entry)
        raise
    url = hub.pinned_url(settings, repo_id, done.commit, publication.ADAPTER_NAME)
    entry.update(hub_status="committed", commit=done.commit, commit_url=done.url, url=url, committed=_now())
    save_version(paths, entry)
    what = "Nothing changed since the last upload; no new commit." if done.unchanged else \
        f"Committed {len(done.changed_paths)} changed files as {done.commit[:10]}."
    yield Progress(4, STAGES, f"{what} Download URL: {url}", {"stage": "commit", "commit": done.commit, "url": url,
                                                              "unchanged": done.unchanged})

    yield from _register(settings, workspace, paths, request, entry, pick, cancel)
    entry.finished = _now()
    save_version(paths, entry)
    yield Progress(STAGES, STAGES, _summary(entry), {"stage": "done"}, entry)


def _commit_message(pick: Chosen, entry: PublishedVersion) -> str:
    step = f" step {pick.step}" if pick.step is not None else ""
    return f"LoRA version {entry.sha256[:12]}{step} (strength {pick.strength:g})"


def _summary(entry: PublishedVersion) -> str:
    text = f"Published to {entry.repo_id} at {entry.commit[:10]}."
    status = entry.runware_status
    if status == "ready":
        text += f" Runware model {entry.air} is ready."
    elif status == "blocked":
        text += f" Not registered on Runware: {PUBLIC_ONLY}."
    elif status == "skipped":
        text += " Runware registration was skipped."
    return text


def _register(settings: Settings, workspace: Workspace, paths: RunPaths, request: PublishRequest, entry: PublishedVersion,
              pick: Chosen, cancel: Cancellation) -> Iterator[Progress]:
    if not request.runware:
        entry.update(runware_status="skipped")
        return
    if entry.private:
        entry.update(runware_status="blocked", runware_message=f"{PUBLIC_ONLY}; this repo is private. "
                     "Make the repo public on the Hub and publish again to register it.")
        save_version(paths, entry)
        yield Progress(5, STAGES, entry.runware_message, {"stage": "runware", "status": "blocked"})
        return
    air = assign_air(workspace, entry.repo_id, request.air, entry)
    yield from register_version(settings, paths, entry, pick, air, cancel)


def register_latest(settings: Settings, run_id: str, air: str | None, repo_id: str | None = None,
                    cancel: Cancellation | None = None) -> Iterator[Progress]:
    """Register (again) the run's latest committed version on Runware, without touching the Hub."""
    cancel = cancel or Cancellation()
    workspace = workspace_from(settings)
    paths = run_paths(workspace, run_id, must_exist=True)
    committed = [v for v in read_record(paths).versions if v.commit and (not repo_id or v.repo_id == repo_id
                                                                         or v.repo_id.endswith("/" + repo_id))]
    if not committed:
        raise PublishError(f"Run {run_id} has no version on the Hub yet.", "Publish it to the Hub first (publish hf).")
    entry = committed[-1]
    pick = Chosen(Path(""), entry.sha256, entry.step, float(entry.strength or 1.0), entry.trigger or "", run_id)
    request = PublishRequest(run_id, repo_id=entry.repo_id, air=air)
    yield from _register(settings, workspace, paths, request, entry, pick, cancel)
    entry.finished = _now()
    save_version(paths, entry)
    yield Progress(STAGES, STAGES, _summary(entry), {"stage": "done"}, entry)


def status(settings: Settings, run_id: str) -> PublishRecord:
    paths = run_paths(workspace_from(settings), run_id, must_exist=True)
    return read_record(paths)
