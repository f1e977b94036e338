"""The comparison grid as HTML (rows: base model and checkpoints; columns: prompts x strengths x seeds) and
the viewer's position in it. Images are served by Gradio from the outputs folder (an allowed path)."""

from __future__ import annotations

import html
from urllib.parse import quote


def file_url(path: str) -> str:
    return "/gradio_api/file=" + quote(str(path))


def columns(grid: dict) -> list[tuple[int, float | None, int]]:
    spec = grid["spec"]
    return [(p, s, seed) for p in range(len(spec["prompts"])) for s in spec["strengths"] for seed in spec["seeds"]]


def find(grid: dict, row: str, prompt_index: int, strength, seed) -> dict | None:
    for cell in grid["cells"]:
        if cell["row"] == row and cell["prompt_index"] == prompt_index and cell["seed"] == seed and \
                (cell["strength"] is None or strength is None or abs(cell["strength"] - strength) < 1e-9):
            return cell
    return None


def render(grid: dict | None, scores: dict[str, float] | None = None, at: tuple[int, int] | None = None) -> str:
    if not grid or not grid.get("cells"):
        return "<div id='grid-empty'>No grid yet: choose prompts and strengths, then <b>Render grid</b>.</div>"
    scores = scores or {}
    spec = grid["spec"]
    head = "".join(
        f"<th title='{html.escape(spec['prompts'][p])}'>P{p + 1} · {s} · seed {seed}</th>" for p, s, seed in columns(grid))
    body = []
    for r_index, row in enumerate(grid["rows"]):
        cells_html = []
        for p, s, seed in columns(grid):
            cell = find(grid, row, p, s, seed)
            if cell is None:
                cells_html.append("<td class='grid-pending'>…</td>")
                continue
            score = scores.get(cell["key"])
            mark = " grid-current" if at and at == (r_index, p) else ""
            label = f"<div class='grid-score'>likeness {score:.3f}</div>" if score is not None else ""
            cells_html.append(
                f"<td class='grid-cell{mark}' data-row='{html.escape(row)}' data-prompt='{p}'>"
                f"<img src='{file_url(cell['path'])}' width='128' alt='{html.escape(row)} P{p + 1}'>{label}</td>")
        title = "base model" if row == "base" else f"step {row}"
        body.append(f"<tr><th>{title}</th>{''.join(cells_html)}</tr>")
    prompts = "".join(f"<li>P{i + 1}: {html.escape(p)}</li>" for i, p in enumerate(spec["prompts"]))
    return (f"<div id='compare-grid'><table class='grid-table'><tr><th></th>{head}</tr>{''.join(body)}</table>"
            f"<ol class='grid-prompts'>{prompts}</ol></div>")


def move(grid: dict | None, at: tuple[int, int], direction: str) -> tuple[int, int]:
    """The viewer's (row, prompt) after an arrow key: left/right change the prompt, up/down the checkpoint."""
    if not grid or not grid.get("rows"):
        return (0, 0)
    rows, prompts = len(grid["rows"]), len(grid["spec"]["prompts"])
    r, p = at
    if direction == "left":
        p = (p - 1) % prompts
    elif direction == "right":
        p = (p + 1) % prompts
    elif direction == "up":
        r = (r - 1) % rows
    elif direction == "down":
        r = (r + 1) % rows
    return (min(r, rows - 1), min(p, prompts - 1))


def viewer(grid: dict | None, at: tuple[int, int], strength, scores: dict[str, float] | None = None) -> tuple[str | None, str]:
    """(image path, settings text) of the viewer's cell."""
    if not grid or not grid.get("rows"):
        return None, "No grid yet."
    r, p = min(max(0, at[0]), len(grid["rows"]) - 1), min(max(0, at[1]), len(grid["spec"]["prompts"]) - 1)
    row = grid["rows"][r]
    seed = grid["spec"]["seeds"][0]
    cell = find(grid, row, p, None if row == "base" else strength, seed)
    if cell is None:
        return None, f"{'Base model' if row == 'base' else 'Step ' + row}, prompt {p + 1}: not rendered yet."
    s = cell["settings"]
    score = (scores or {}).get(cell["key"])
    lines = [
        f"**{'Base model (no LoRA)' if row == 'base' else 'Checkpoint step ' + row}** · prompt {p + 1} of {len(grid['spec']['prompts'])}"
        f" · row {r + 1} of {len(grid['rows'])}",
        f"Prompt: {s['prompt']}",
        f"Strength {s['strength'] if s['strength'] is not None else '-'} · seed {s['seed']} · {s['width']}x{s['height']} · "
        f"{s['steps']} steps · guidance {s['guidance']} · model {s['model']}",
    ]
    if s.get("adapter_sha256"):
        lines.append(f"Adapter sha256 {s['adapter_sha256'][:16]}…")
    if score is not None:
        lines.append(f"Likeness {score:.3f}")
    lines.append("_Arrow keys: ←/→ prompt, ↑/↓ checkpoint._")
    return cell["path"], "\n\n".join(lines)
