"""The comparison grid as a person types it (prompts one per line, strengths and seeds separated by commas,
a WIDTHxHEIGHT size, the checkpoints picked) read into a GridSpec; the fields' defaults for a run (its model, its
training resolution, a few checkpoints spread over the run); and which grid row may be chosen for publishing (not
the base model's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core import storage
from core.checkpoints import store as checkpoints
from core.checkpoints.compare import BASE_ROW, GridSpec
from core.errors import AppError
from core.models.base import BASE_MODELS
from core.runs.paths import run_paths

DEFAULT_CHECKPOINTS = 4  # checkpoints picked by default, spread over the run and always with the last
DEFAULT_PROMPTS = 2  # test prompts used by default
DEFAULT_SIZE = 1024
DEFAULT_STRENGTHS = "1.0"
DEFAULT_SEEDS = "1"


@dataclass
class GridDefaults:
    """The grid fields for a run before the person changes them."""

    model: str  # the run's base model key
    size: str  # the run's training resolution, "WxH"
    steps: list[int] = field(default_factory=list)  # the checkpoints picked
    available: list[int] = field(default_factory=list)  # every checkpoint of the run (step 0 too)
    strengths: str = DEFAULT_STRENGTHS
    seeds: str = DEFAULT_SEEDS


def spread(steps: list[int], count: int = DEFAULT_CHECKPOINTS) -> list[int]:
    """At most `count` of `steps`, evenly spread and always with the last (the newest checkpoint)."""
    if len(steps) <= count:
        return list(steps)
    last = len(steps) - 1
    picks = sorted({round(last - i * last / (count - 1)) for i in range(count)}) if count > 1 else [last]
    return [steps[i] for i in picks]


def defaults_for_run(workspace, run_id: str) -> GridDefaults:
    """The grid a run is compared on first: its own model at its training resolution, the last checkpoints spread
    over the run (step 0, before any training, left out when there are others), one strength, one seed."""
    paths = run_paths(workspace, run_id, must_exist=True)
    record = paths.read_record()
    config = storage.read_json(paths.train_json, default={}) or {}
    model = record.model if record.model in BASE_MODELS else "flux2-klein-base-4b"
    resolution = record.max_resolution or config.get("max_resolution") or DEFAULT_SIZE
    try:
        side = max(16, int(resolution) // 16 * 16)
    except (TypeError, ValueError):
        side = DEFAULT_SIZE
    available = [step for step, _ in paths.checkpoint_zips()]
    trained = [s for s in available if s > 0] or available
    return GridDefaults(model=model, size=f"{side}x{side}", steps=spread(trained), available=available)


def default_prompts(prompts: list[str]) -> list[str]:
    return list(prompts[:DEFAULT_PROMPTS])


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


def parse_steps(values) -> list[int] | None:
    """The checkpoints picked (a list of steps, or text like '2, 4'); None when none is picked (every one)."""
    if values is None or values == "" or values == []:
        return None
    if isinstance(values, str):
        return [int(v) for v in parse_numbers(values, "checkpoint steps")]
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        raise AppError(f"The checkpoint steps {values} are not numbers.", "Pick checkpoints from the list.") from None


def grid_spec(workspace, run_id: str, prompts: str, strengths: str, seeds: str, *, model: str | None = None,
              size: str = "1024x1024", sample_steps: int | float | None = None,
              guidance: float | None = None, steps=None) -> GridSpec:
    """The grid the fields describe, for a run that exists; 0 or empty steps / guidance: the model's own;
    no checkpoints picked: every checkpoint."""
    paths = run_paths(workspace, run_id, must_exist=True)
    trigger = paths.read_record().trigger
    prompt_list = parse_prompts(prompts, trigger)
    width, height = parse_size(size)
    return GridSpec(run_id=paths.run_id, prompts=prompt_list, strengths=parse_numbers(strengths, "strengths"),
                    seeds=[int(v) for v in parse_numbers(seeds, "seeds")], model=model or None, width=width,
                    height=height, sample_steps=int(sample_steps) if sample_steps else None,
                    guidance=float(guidance) if guidance else None, steps=parse_steps(steps))


def choose_row(workspace, run_id: str, row: str, strength: float) -> checkpoints.Chosen:
    """Choose the checkpoint of a grid row for publishing; the base model's row has no LoRA to publish."""
    if row == BASE_ROW:
        raise AppError("The viewer is on the base model, which has no LoRA to publish.", "Move to a checkpoint row (↑/↓) first.")
    return checkpoints.choose(workspace, run_id, int(row), float(strength))
