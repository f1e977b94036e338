"""A Playground comparison report: local and Runware images of the same prompts, with scores, in a folder.

    outputs/runs/<run>/playground/<YYYYMMDD-HHMMSS>/
        report.json        settings, one entry per prompt (images, errors, SSIM, likeness, cost), status
        report.html        the same as a small page that opens in any browser
        NN-local.png       the local image of prompt NN
        NN-runware.png     Runware's image of prompt NN (+ its .json of settings)

The report is rewritten (atomically) each time a pair fills in, so a stopped or crashed batch still
leaves a readable report of what was done.
"""

from __future__ import annotations

import html
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from core import storage
from core.runs.paths import RunPaths
from core.errors import NotFound

SAMPLER_NOTE = (
    "Runware and local mflux use different samplers and schedulers, so the same prompt and seed do not give the "
    "same pixels: compare each pair for likeness to the character and for style, not pixel by pixel."
)
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"


@dataclass
class Pair:
    index: int
    prompt: str
    seed: int
    local_image: str | None = None  # file name inside the report folder
    cloud_image: str | None = None
    local_error: str | None = None
    cloud_error: str | None = None
    local_cached: bool = False
    local_seconds: float | None = None
    cloud_seconds: float | None = None
    cost: float | None = None
    ssim: float | None = None
    likeness_local: float | None = None
    likeness_cloud: float | None = None

    @property
    def local_done(self) -> bool:
        return self.local_image is not None or self.local_error is not None

    @property
    def cloud_done(self) -> bool:
        return self.cloud_image is not None or self.cloud_error is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    folder: Path
    run_id: str
    settings: dict[str, Any]
    pairs: list[Pair]
    status: str = "running"  # running | completed | stopped | failed
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    note: str = SAMPLER_NOTE

    @property
    def total_cost(self) -> float | None:
        costs = [pair.cost for pair in self.pairs if pair.cost is not None]
        return round(sum(costs), 6) if costs else None

    @property
    def name(self) -> str:
        return self.folder.name

    def path(self, name: str | None) -> Path | None:
        return self.folder / name if name else None

    def counts(self) -> dict[str, int]:
        return {
            "prompts": len(self.pairs),
            "runware_done": sum(1 for p in self.pairs if p.cloud_image),
            "runware_failed": sum(1 for p in self.pairs if p.cloud_error),
            "local_done": sum(1 for p in self.pairs if p.local_image),
            "local_failed": sum(1 for p in self.pairs if p.local_error),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "folder": str(self.folder), "status": self.status, "created_at": self.created_at,
            "finished_at": self.finished_at, "error": self.error, "note": self.note, "notes": self.notes,
            "settings": self.settings, "total_cost": self.total_cost, "counts": self.counts(),
            "pairs": [pair.to_dict() for pair in self.pairs],
        }

    def save(self) -> Path:
        storage.write_json(self.folder / REPORT_JSON, self.to_dict())
        storage.write_text(self.folder / REPORT_HTML, render_html(self))
        return self.folder / REPORT_JSON


def playground_dir(paths: RunPaths) -> Path:
    return paths.root / "playground"


def new_report_folder(paths: RunPaths) -> Path:
    base = playground_dir(paths) / time.strftime("%Y%m%d-%H%M%S")
    folder, counter = base, 1
    while folder.exists():
        counter += 1
        folder = base.with_name(f"{base.name}-{counter}")
    folder.mkdir(parents=True)
    return folder


def load_report(folder: Path) -> Report:
    """Reopen a saved report (from its folder or its report.json)."""
    folder = Path(folder)
    if folder.name == REPORT_JSON:
        folder = folder.parent
    data = storage.read_json(folder / REPORT_JSON)
    if not isinstance(data, dict):
        raise NotFound(f"There is no readable Playground report in {folder}.", "Pick another report from the list.")
    known = {f.name for f in fields(Pair)}
    pairs = [Pair(**{k: v for k, v in item.items() if k in known}) for item in data.get("pairs", [])]
    return Report(folder=folder, run_id=data.get("run_id", ""), settings=data.get("settings", {}), pairs=pairs,
                  status=data.get("status", "unknown"), created_at=data.get("created_at", 0.0),
                  finished_at=data.get("finished_at"), error=data.get("error"), notes=data.get("notes", []),
                  note=data.get("note", SAMPLER_NOTE))


def list_reports(paths: RunPaths) -> list[Report]:
    """The run's saved reports, newest first (unreadable folders are skipped)."""
    root = playground_dir(paths)
    if not root.is_dir():
        return []
    reports = []
    for folder in sorted(root.iterdir(), reverse=True):
        if (folder / REPORT_JSON).is_file():
            try:
                reports.append(load_report(folder))
            except Exception:  # noqa: BLE001 - one broken report must not hide the others
                continue
    return reports


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def render_html(report: Report) -> str:
    e = html.escape
    rows = []
    for pair in report.pairs:
        def cell(image: str | None, error: str | None, side: str) -> str:
            if image:
                return f'<td><a href="{e(image)}"><img src="{e(image)}" alt="{side}"></a></td>'
            return f'<td class="err">{e(error or "waiting…")}</td>'

        rows.append(
            f"<tr><td>{pair.index + 1}</td><td>{e(pair.prompt)}<br><small>seed {pair.seed}</small></td>"
            + cell(pair.local_image, pair.local_error, "local") + cell(pair.cloud_image, pair.cloud_error, "Runware")
            + f"<td>{_score(pair.likeness_local)}</td><td>{_score(pair.likeness_cloud)}</td>"
            + f"<td>{_score(pair.ssim)}</td><td>{'' if pair.cost is None else f'${pair.cost:.4f}'}</td></tr>"
        )
    settings = ", ".join(f"{e(str(k))}: {e(str(v))}" for k, v in report.settings.items() if v not in (None, ""))
    cost = "" if report.total_cost is None else f" · total cost ${report.total_cost:.4f}"
    notes = "".join(f"<p>{e(n)}</p>" for n in report.notes)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Playground {e(report.run_id)} {e(report.name)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:6px;vertical-align:top}}img{{max-width:320px;max-height:320px}}
.err{{color:#a00;max-width:320px}}.note{{background:#fff8e0;padding:8px}}</style></head><body>
<h1>Local vs Runware · {e(report.run_id)}</h1>
<p>Report {e(report.name)} · status {e(report.status)}{cost}</p>
<p class="note">{e(report.note)}</p>{notes}
<p><small>{settings}</small></p>
<table><tr><th>#</th><th>Prompt</th><th>Local</th><th>Runware</th><th>Likeness local</th><th>Likeness Runware</th>
<th>SSIM</th><th>Cost</th></tr>
{''.join(rows)}
</table></body></html>
"""
