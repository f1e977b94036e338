"""What the Publish tab shows for a run, gathered in one call: the chosen adapter, the default repo name,
the remembered Runware AIR, the sample candidates and the published versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.checkpoints.store import Chosen, read_chosen
from core.publishing import publish as publishing
from core.publishing.record import PublishedVersion, read_record
from core.errors import AppError
from core.runs.paths import run_paths
from core.settings import Settings
from core.workspace import workspace_from


@dataclass
class Overview:
    run_id: str
    chosen: Chosen | None
    problem: str | None  # why nothing can be published yet (one sentence with what to do)
    repo_name: str
    air: str
    samples: list[Path] = field(default_factory=list)
    versions: list[PublishedVersion] = field(default_factory=list)
    selftest: str | None = None  # why the adapter is a self-test one (tiny random model), else None

    def chosen_text(self) -> str:
        if self.chosen is None:
            return f"⚠️ {self.problem}"
        step = f"step {self.chosen.step}" if self.chosen.step is not None else "an exported adapter"
        trigger = f"`{self.chosen.trigger}`" if self.chosen.trigger else "none"
        text = (f"**Publishing** {step} of run `{self.run_id}` at strength **{self.chosen.strength:g}**, "
                f"trigger word {trigger} · sha256 `{self.chosen.sha256[:12]}…`")
        if self.selftest:
            text += (f"\n\n⚠️ **Self-test adapter.** {self.selftest}: it is not a FLUX.2 klein 4B character LoRA and is "
                     "not published unless you tick *Publish this self-test adapter* below (then the card and the "
                     "Runware name say it is a self-test).")
        return text

    def version_rows(self) -> list[list]:
        rows = []
        for v in reversed(self.versions):
            rows.append([v.repo_id, "private" if v.private else "public",
                         str(v.commit or "")[:10], v.hub_status or "", v.air or "",
                         v.runware_status or "", v.url or "", v.finished or v.started])
        return rows


VERSION_HEADERS = ["repo", "visibility", "commit", "hub", "AIR", "runware", "download URL (pinned)", "when"]


def overview(settings: Settings, run_id: str, adapter: str | Path | None = None) -> Overview:
    workspace = workspace_from(settings)
    paths = run_paths(workspace, run_id, must_exist=True)
    request = publishing.PublishRequest(run_id, adapter=Path(adapter) if adapter else None)
    try:
        pick, problem = publishing.chosen(paths, request), None
    except AppError as error:
        pick, problem = None, str(error)
    record = read_record(paths)
    last_repo = record.versions[-1].repo_id if record.versions else ""
    repo_name = last_repo.split("/")[-1] if last_repo else publishing.default_repo_name(paths)
    return Overview(run_id=run_id, chosen=pick, problem=problem, repo_name=repo_name,
                    air=publishing.remembered_air(workspace, last_repo) if last_repo else "",
                    samples=publishing.sample_candidates(workspace, paths), versions=record.versions,
                    selftest=publishing.selftest_reason(paths, pick.adapter_path) if pick else None)


def runs(settings: Settings) -> list[str]:
    return workspace_from(settings).list_runs()


def chosen_run(settings: Settings, names: list[str]) -> str | None:
    """The run whose checkpoint was chosen for publishing most recently, or None when no run has one."""
    workspace = workspace_from(settings)
    best, when = None, -1.0
    for name in names:
        try:
            picked = read_chosen(run_paths(workspace, name))
        except (AppError, OSError, ValueError, KeyError, TypeError):
            continue
        if picked is not None and picked.chosen_at > when:
            best, when = name, picked.chosen_at
    return best


def opening_run(settings: Settings, current: str | None, picked_by_hand: bool) -> tuple[list[str], str | None]:
    """(runs, the run to show) when the page loads or the tab opens: the run the person picked here while it
    exists, else the run with the chosen checkpoint, else the one shown while it exists, else the newest."""
    names = runs(settings)
    if current in names and picked_by_hand:
        return names, current
    chosen = chosen_run(settings, names)
    if chosen:
        return names, chosen
    return names, current if current in names else (names[0] if names else None)
