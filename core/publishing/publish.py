"""Publishing a chosen checkpoint: one Hub commit, then a Runware model waited until ready.

    for event in publish(settings, PublishRequest(run_id, repo_id="alice/mira-lora"), cancel):
        print(event.message)                      # the last event's result is the version record

Stages: check everything that can be checked (the adapter, a self-test adapter, the repo name, the token, the
card, the allowlisted files, the Runware AIR) -> create/find the repo -> one commit (none when nothing changed) ->
record -> register on Runware (public repos only) -> record. A refusal always comes before the first write. Every stage is written to the run's
publish record (RunPaths.publish_json) as soon as it is done, so running the same publish again after any
failure continues from there: the commit is not repeated for unchanged files, the Runware version number is
kept for the same adapter, and a ready model is not uploaded again.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from core import constants, storage
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
from core.training.config import model_key_of
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
    # A self-test adapter (the tiny random model) is refused unless this is set; then the card, the record and
    # the Runware name say it is a self-test (for testing the pipeline, never a character LoRA).
    allow_selftest: bool = False


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


SELFTEST_OVERRIDE = ("To test the publishing pipeline with it anyway, tick 'Publish this self-test adapter, labelled as a "
                     "self-test' (CLI: --selftest); the card and the Runware name then say it is a self-test.")


def selftest_reason(paths: RunPaths, adapter: Path) -> str | None:
    """Why `adapter` is a self-test adapter (the tiny random model), or None: the run was trained on the
    self-test model, or the adapter's metadata says it was exported from such a run."""
    if paths.read_record().model == constants.SELFTEST:
        return f"Run {paths.run_id} was trained on the self-test model (tiny and random)"
    if model_key_of(storage.read_json(paths.train_json, default={}) or {}) == constants.SELFTEST:
        return f"Run {paths.run_id} was trained on the self-test model (tiny and random)"
    try:
        with open(adapter, "rb") as handle:
            head = handle.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else 0
            header = json.loads(handle.read(length)) if 0 < length <= 1 << 24 else {}
    except (OSError, ValueError):
        return None  # an unreadable adapter is refused later with its own sentence
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if isinstance(metadata, dict) and constants.SELFTEST in (metadata.get("base_model_key"), metadata.get("base_model")):
        return f"The adapter {Path(adapter).name} was exported from a self-test run (tiny random model)"
    return None


def check_selftest(paths: RunPaths, pick: Chosen, allow: bool) -> bool:
    """True for a self-test adapter that may be published (labelled); refuses one that may not."""
    reason = selftest_reason(paths, pick.adapter_path)
    if reason and not allow:
        raise PublishError(f"{reason}: it is not a FLUX.2 klein 4B character LoRA, so it is not published.",
                           SELFTEST_OVERRIDE)
    return reason is not None


def default_repo_name(paths: RunPaths) -> str:
    base = paths.read_record().dataset or paths.run_id
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(base)).strip("-.") or "character"
    return f"{name}-flux2-klein-lora"[:90]


def full_repo_id(repo: str | None, account: str, paths: RunPaths) -> str:
    """`owner/name` for `repo`; None means the run's default name, an empty text is refused (a cleared field
    must not publish under a name the person did not see)."""
    if repo is not None and not repo.strip():
        raise PublishError("The repo name is empty.",
                           f"Type a name, for example {default_repo_name(paths)} (the default for this run).")
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
    return publication.unique_files(found, limit)


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


def _number(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return f"{value:g}" if isinstance(value, float) else str(value)


def training_rows(paths: RunPaths, pick: Chosen) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(training settings, preview sampling settings) for the card, from the run record and its train.json.

    The training numbers are the run's (its steps, epochs, rank, learning rate, resolution); train.json's
    top-level `steps`/`guidance` are how the previews were sampled, shown apart so that nobody reads them as
    the training length."""
    record = paths.read_record()
    config = publication.public_config(storage.read_json(paths.train_json, default={}) or {})
    form = record.form if isinstance(record.form, dict) else {}
    loop = config.get("training_loop") if isinstance(config.get("training_loop"), dict) else {}
    optimizer = config.get("optimizer") if isinstance(config.get("optimizer"), dict) else {}
    layers = config.get("lora_layers") if isinstance(config.get("lora_layers"), dict) else {}
    targets = layers.get("targets") if isinstance(layers.get("targets"), list) else []
    rank = next((t.get("rank") for t in targets if isinstance(t, dict) and "rank" in t), None)
    rank = rank if rank is not None else layers.get("rank", form.get("rank"))
    resolution = config.get("max_resolution", record.max_resolution or form.get("max_resolution"))
    training = [
        ("training steps", _number(record.total_steps or None)),
        ("published checkpoint", f"step {pick.step}" if pick.step is not None else None),
        ("epochs", _number(loop.get("num_epochs", form.get("epochs")))),
        ("batch size", _number(loop.get("batch_size", form.get("batch_size")))),
        ("learning rate", _number(optimizer.get("learning_rate", form.get("learning_rate")))),
        ("optimizer", str(optimizer["name"]) if isinstance(optimizer.get("name"), str) else None),
        ("LoRA rank", _number(rank)),
        ("max resolution", f"{_number(resolution)} px" if _number(resolution) else None),
        ("seed", _number(config.get("seed", form.get("seed")))),
    ]
    sampling = [("preview sampling steps", _number(config.get("steps"))),
                ("preview guidance", _number(config.get("guidance")))]
    return [(k, v) for k, v in training if v], [(k, v) for k, v in sampling if v]


def card_info(paths: RunPaths, repo_id: str, pick: Chosen, samples: list[Path], selftest: bool = False,
              ) -> model_card.CardInfo:
    training, sampling = training_rows(paths, pick)
    return model_card.CardInfo(repo_id=repo_id, trigger=pick.trigger, strength=pick.strength, step=pick.step,
                               sample_prompts=[sample_prompt(s, pick.trigger) for s in samples], training=training,
                               sampling=sampling, selftest=selftest)


def draft_card(settings: Settings, request: PublishRequest, account: str = "you") -> tuple[str, bool]:
    """The card that would be published (the saved draft or a generated one) and whether it was edited."""
    paths = run_paths(workspace_from(settings), request.run_id, must_exist=True)
    draft = model_card.read_draft(paths)
    if draft is not None and draft.strip():  # the person's text, even before a checkpoint is chosen
        return draft, True
    pick = chosen(paths, request)
    repo_id = full_repo_id(request.repo_id, account, paths)
    selftest = selftest_reason(paths, pick.adapter_path) is not None
    samples = publication.unique_samples(list(request.samples))
    return model_card.card_for(paths, card_info(paths, repo_id, pick, samples, selftest))


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


AIR_PATTERN = r"([a-z0-9_-]+):([A-Za-z0-9_.-]+)(?:@(\d+))?"


def plan_air(workspace: Workspace, repo_id: str, air: str | None, entry: PublishedVersion) -> tuple[str, int]:
    """(source:id, version) this publish would register, or a PublishError; nothing is written. Checked before
    anything goes to the Hub, so a missing or malformed AIR never leaves a repo behind."""
    if entry.air:
        base, _, version = entry.air.rpartition("@")
        return base, int(version) if version.isdigit() else 1
    memory = storage.read_json(_runware_memory(workspace), default={}) or {}
    given = (air or "").strip()
    match = re.fullmatch(AIR_PATTERN, given) if given else None
    if given and not match:
        raise PublishError(f"'{given}' is not a Runware AIR source and id.",
                           "Type it as source:id (for example mysource:mira), the source you created on Runware; "
                           "or untick Runware registration to publish to the Hub only.")
    base = f"{match.group(1)}:{match.group(2)}" if match else (memory.get("air_by_repo") or {}).get(repo_id)
    if not base:
        raise PublishError("Runware needs the AIR source and id for this LoRA (source:id).",
                           "Type it once in the AIR field (the source you created in the Runware dashboard), "
                           "or untick Runware registration to publish to the Hub only.")
    counters = memory.get("last_version") or {}
    version = int(match.group(3)) if match and match.group(3) else int(counters.get(base, 0)) + 1
    return base, version


def assign_air(workspace: Workspace, repo_id: str, air: str | None, entry: PublishedVersion) -> str:
    """`source:id@version` for this version: the base asked once per repo, the version counted per publish."""
    if entry.air:
        return entry.air
    base, version = plan_air(workspace, repo_id, air, entry)
    memory = storage.read_json(_runware_memory(workspace), default={}) or {}
    memory.setdefault("air_by_repo", {})[repo_id] = base
    counters = memory.setdefault("last_version", {})
    counters[base] = max(version, int(counters.get(base, 0)))
    storage.write_json(_runware_memory(workspace), memory)
    return f"{base}@{version}"


def remembered_air(workspace: Workspace, repo_id: str) -> str:
    memory = storage.read_json(_runware_memory(workspace), default={}) or {}
    return (memory.get("air_by_repo") or {}).get(repo_id, "")


# --- the orchestration ---

def publish(settings: Settings, request: PublishRequest, cancel: Cancellation | None = None) -> Iterator[Progress]:
    """Check everything (adapter, self-test, repo name, samples, card, files, AIR), then write: the repo, one
    commit, the Runware registration. Any refusal comes before the first write on the Hub."""
    cancel = cancel or Cancellation()
    workspace = workspace_from(settings)
    paths = run_paths(workspace, request.run_id, must_exist=True)
    pick = chosen(paths, request)
    selftest = check_selftest(paths, pick, request.allow_selftest)
    full_repo_id(request.repo_id, "you", paths)  # an empty or malformed name, before asking the Hub anything
    samples = publication.unique_samples(list(request.samples))
    dropped = len(request.samples) - len(samples)

    yield Progress(0, STAGES, "Checking your Hugging Face token…", {"stage": "token"})
    account = hub.whoami(settings)
    if not account.can_write:
        raise hub.HubError(f"The token of {account.name} can only read.", "Create a token with the 'write' role.")
    repo_id = full_repo_id(request.repo_id, account.name, paths)
    named = "" if request.repo_id is not None else " (the default name for this run)"
    yield Progress(1, STAGES, f"Signed in as {account.name}; publishing to {repo_id}{named}.",
                   {"stage": "token", "account": account.name, "repo_id": repo_id})
    cancel.check()

    info = card_info(paths, repo_id, pick, samples, selftest)
    card = request.card_text if request.card_text is not None else model_card.card_for(paths, info)[0]
    card = model_card.retarget(card, repo_id, info.sample_prompts, pick.trigger)
    if selftest:
        card = model_card.mark_selftest(card)
    model_card.validate(card)
    files = publication.build(pick.adapter_path, card, samples, storage.read_json(paths.train_json, default=None))
    if files.adapter.sha256 != pick.sha256:
        raise PublishError("The adapter file changed since it was chosen.", "Choose the checkpoint again, then publish.")
    entry = _version_entry(paths, repo_id, pick.sha256)
    if request.runware and not request.private:
        plan_air(workspace, repo_id, request.air, entry)  # a missing or malformed AIR: refused before the Hub
    entry.update(step=pick.step, strength=pick.strength, trigger=pick.trigger, files=files.summary(),
                 account=account.name, error=None, selftest=True if selftest else None)
    twice = f" ({dropped} duplicate sample{'s' if dropped != 1 else ''} left out)" if dropped else ""
    label = " Self-test adapter: labelled as a self-test on the card and on Runware." if selftest else ""
    yield Progress(2, STAGES, f"{len(files.files)} files ready: {', '.join(files.paths())}{twice}.{label}",
                   {"stage": "files", "files": files.summary(), "duplicates": dropped, "selftest": selftest})
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
    kind = "Self-test LoRA (tiny random model, not for FLUX.2 klein 4B)" if entry.selftest else "LoRA"
    return f"{kind} version {entry.sha256[:12]}{step} (strength {pick.strength:g})"


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
