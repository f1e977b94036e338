"""`compare RUN`: the checkpoint x prompt x strength x seed grid of a run, with a base-model row."""

from __future__ import annotations

from core.cli import Commands, Context, Outcome
from core.dataset.preview_prompts import load_test_prompts
from core.progress import drain
from core.checkpoints import compare, likeness
from core.errors import AppError
from core.runs.paths import run_paths


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def register(commands: Commands) -> None:
    parser = commands.add("compare", "Render a run's checkpoints side by side (cells are cached; reruns are instant).", run)
    parser.add_argument("run")
    parser.add_argument("--prompts", metavar="FILE", help="a .json ({\"prompts\": [...]}) or .txt file (default: config/test_prompts.json)")
    parser.add_argument("--scales", type=_floats, default=[1.0], help="LoRA strengths, e.g. 0.8,1.0,1.5")
    parser.add_argument("--seeds", type=_ints, default=[1], help="e.g. 1,2")
    parser.add_argument("--steps", type=_ints, help="checkpoint steps (default: all)")
    parser.add_argument("--model", help="base model to render on (default: the run's; e.g. flux2-klein-4b)")
    parser.add_argument("--size", default="1024x1024", help="WIDTHxHEIGHT")
    parser.add_argument("--sample-steps", type=int, help="denoising steps (default: the model's)")
    parser.add_argument("--guidance", type=float)
    parser.add_argument("--no-base", action="store_true", help="leave out the base-model row")
    parser.add_argument("--likeness", action="store_true", help="score each cell against the dataset's images")


def run(context: Context) -> Outcome:
    args = context.args
    paths = run_paths(context.workspace, args.run, must_exist=True)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise AppError(f"--size {args.size} is not WIDTHxHEIGHT.", "Use e.g. --size 1024x1024.") from None
    prompts = load_test_prompts(args.prompts, paths.read_record().trigger or "")
    spec = compare.GridSpec(run_id=paths.run_id, prompts=prompts, strengths=args.scales, seeds=args.seeds, steps=args.steps,
                            include_base=not args.no_base, model=args.model, width=width, height=height,
                            sample_steps=args.sample_steps, guidance=args.guidance)
    grid = drain(compare.run_grid(context.workspace, spec, settings=context.settings), context.progress)
    data = grid.to_dict()
    lines = [f"{len(grid.cells)} cells ({sum(c.cached for c in grid.cells)} from the cache) in {paths.compare_dir}"]
    if args.likeness:
        per_cell, ranking = likeness.rank(grid, likeness.dataset_images_of_run(context.workspace, paths), model=context.settings.likeness_model,
                                          endpoint=context.settings.hf_endpoint)
        data["likeness"] = {"cells": per_cell, "ranking": [vars(r) for r in ranking]}
        lines += [f"  {r.row:>8}  likeness {r.score:.3f}" for r in ranking]
    return Outcome(data, "\n".join(lines))
