"""The comparison grid as a person types it (prompts one per line, strengths and seeds separated by commas,
a WIDTHxHEIGHT size) read into a GridSpec, and which grid row may be chosen for publishing (not the base model's).
"""

from __future__ import annotations

from core.checkpoints import store as checkpoints
from core.checkpoints.compare import BASE_ROW, GridSpec
from core.errors import AppError
from core.runs.paths import run_paths


def parse_numbers(text: str, what: str) -> list[float]:
    """'1.0, 1.5' (or with ';') as numbers; `what` names them in the error ("strengths", "seeds")."""
    try:
        values = [float(v) for v in str(text).replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise AppError(f"The {what} '{text}' are not numbers.", f"Type {what} separated by commas, e.g. 1.0, 1.5.") from None
    if not values:
        raise AppError(f"No {what} given.", "Type at least one, e.g. 1.0.")
    return values


def parse_size(text: str) -> tuple[int, int]:
    """'1024x1024' (spaces and case ignored) as (width, height)."""
    try:
        width, height = (int(v) for v in str(text).lower().replace(" ", "").split("x"))
    except ValueError:
        raise AppError(f"The size '{text}' is not WIDTHxHEIGHT.", "Type e.g. 1024x1024.") from None
    return width, height


def parse_prompts(text: str, trigger: str | None) -> list[str]:
    """One prompt per line, {trigger} filled in with the run's trigger word."""
    prompts = [p.replace("{trigger}", trigger or "").strip(" ,") for p in str(text).splitlines() if p.strip()]
    if not prompts:
        raise AppError("There are no prompts.", "Type at least one prompt.")
    return prompts


def grid_spec(workspace, run_id: str, prompts: str, strengths: str, seeds: str, *, model: str | None = None,
              size: str = "1024x1024", sample_steps: int | float | None = None,
              guidance: float | None = None) -> GridSpec:
    """The grid the fields describe, for a run that exists; 0 or empty steps / guidance: the model's own."""
    paths = run_paths(workspace, run_id, must_exist=True)
    trigger = paths.read_record().trigger
    prompt_list = parse_prompts(prompts, trigger)
    width, height = parse_size(size)
    return GridSpec(run_id=paths.run_id, prompts=prompt_list, strengths=parse_numbers(strengths, "strengths"),
                    seeds=[int(v) for v in parse_numbers(seeds, "seeds")], model=model or None, width=width,
                    height=height, sample_steps=int(sample_steps) if sample_steps else None,
                    guidance=float(guidance) if guidance else None)


def choose_row(workspace, run_id: str, row: str, strength: float) -> checkpoints.Chosen:
    """Choose the checkpoint of a grid row for publishing; the base model's row has no LoRA to publish."""
    if row == BASE_ROW:
        raise AppError("The viewer is on the base model, which has no LoRA to publish.", "Move to a checkpoint row (↑/↓) first.")
    return checkpoints.choose(workspace, run_id, int(row), float(strength))
