"""How the Dataset tab renders core results: the pre-flight table (with thumbnails) and the import report, both
plain HTML tables whose text wraps (nothing cut off) inside a box of bounded height that scrolls."""

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
    parts = ['<div class="preflight" style="max-height:640px;overflow-y:auto">']
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


REPORT_HEADERS = ("file", "kind", "result", "reason / warnings")
RESULT_ICON = {"accepted": "✅", "rejected": "⛔", "skipped": "↩️"}


def outcome_row(outcome) -> list[str]:
    """One import outcome (a FileOutcome or its dict) as [file, kind, result, reason]."""
    get = outcome.get if isinstance(outcome, dict) else lambda key: getattr(outcome, key)
    source = str(get("source"))
    name = Path(source.split("!")[-1]).name
    result = "skipped" if get("duplicate_of") else ("accepted" if get("accepted") else "rejected")
    return [name, str(get("kind")), result, "; ".join([get("reason")] + list(get("warnings") or []))]


def report_rows(report) -> list[list[str]]:
    return [outcome_row(f) for f in report.files]


def report_html(rows: list[list[str]]) -> str:
    """The import report: every file with its whole reason (wrapped, never cut), rejected and skipped first."""
    if not rows:
        return ""
    order = {"rejected": 0, "skipped": 1, "accepted": 2}
    cell = "padding:4px 8px;vertical-align:top;overflow-wrap:anywhere;white-space:normal"
    parts = ['<div class="import-report" style="max-height:480px;overflow-y:auto">'
             '<table style="width:100%;border-collapse:collapse;table-layout:fixed">'
             '<colgroup><col style="width:24%"><col style="width:8%"><col style="width:11%"><col style="width:57%"></colgroup>'
             "<thead><tr>" + "".join(f'<th style="{cell};text-align:left">{h}</th>' for h in REPORT_HEADERS) + "</tr></thead><tbody>"]
    for name, kind, result, reason in sorted(rows, key=lambda r: order.get(r[2], 3)):
        parts.append(f'<tr data-result="{result}" style="border-top:1px solid #8884"><td style="{cell}">{html.escape(name)}</td>'
                     f'<td style="{cell}">{html.escape(kind)}</td><td style="{cell}">{RESULT_ICON.get(result, "")} {result}</td>'
                     f'<td class="reason" style="{cell}">{html.escape(reason)}</td></tr>')
    parts.append("</tbody></table></div>")
    return "".join(parts)


def import_status(report) -> str:
    """The line above the report: a tick only when everything offered was imported or already there."""
    if not report.accepted and not report.already:  # a folder that does not exist, or nothing readable
        icon = "⛔"
    elif not report.accepted and not report.rejected:
        icon = "ℹ️"  # nothing new: every picture was already in the dataset
    elif report.rejected or report.cancelled:
        icon = "⚠️"
    else:
        icon = "✅"
    return f"{icon} {report.summary()}"
