"""How the Dataset tab renders core results: the pre-flight table (with thumbnails) and the import report."""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote

LEVEL_ICON = {"ok": "✅", "warning": "⚠️", "error": "⛔"}


def file_url(path: str) -> str:
    """A URL the Gradio server serves (the datasets folder is in allowed_paths)."""
    return "/gradio_api/file=" + quote(str(Path(path).resolve()))


def preflight_html(result) -> str:
    general = [f for f in result.errors + result.warnings if f.stem is None]
    parts = ['<div class="preflight">']
    if general:
        parts.append("<ul>" + "".join(f"<li>{LEVEL_ICON[f.level]} {html.escape(f.message)}</li>" for f in general) + "</ul>")
    parts.append('<table class="preflight-table" style="width:100%;border-collapse:collapse">'
                 "<thead><tr><th></th><th>image</th><th>size</th><th>words</th><th>sharpness</th><th>findings</th></tr></thead><tbody>")
    order = {"error": 0, "warning": 1, "ok": 2}
    for row in sorted(result.rows, key=lambda r: (order[r.level], r.stem)):
        thumb = f'<img src="{file_url(row.image)}" loading="lazy" style="height:64px;max-width:96px;object-fit:contain">'
        problems = "<br>".join(html.escape(p) for p in row.problems) or "fine"
        parts.append(f'<tr data-level="{row.level}" style="border-top:1px solid #8884"><td>{thumb}</td>'
                     f"<td>{LEVEL_ICON[row.level]} {html.escape(row.stem)}</td><td>{row.width}x{row.height}</td>"
                     f"<td>{row.words}</td><td>{row.sharpness:.0f}</td><td>{problems}</td></tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


def report_rows(report) -> list[list[str]]:
    rows = []
    for f in report.files:
        detail = "; ".join([f.reason] + f.warnings)
        rows.append([Path(f.source.split("!")[-1]).name if "!" in f.source else Path(f.source).name, f.kind,
                     "accepted" if f.accepted else "rejected", detail])
    return rows
