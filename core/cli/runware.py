"""`runware generate|compare|reports|architecture`: the Runware Playground without the UI."""

from __future__ import annotations

from pathlib import Path

from core.cli import Commands, Context, Outcome
from core.progress import drain
from core.runware.cloud import CloudRequest, generate, LoraRef, total_cost
from core.playground import spend
from core.playground.pairs import compare_stages
from core.playground.report import list_reports
from core.runs.paths import run_paths
from core.runware.registry import resolve_architecture


def register(commands: Commands) -> None:
    group = commands.group("runware", "Generate on Runware and compare with local images.")
    gen = group.add("generate", "Generate on Runware (base FLUX.2 klein 4B, optionally with your LoRA).", run_generate)
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--model", default="runware:400@5", help="base AIR: runware:400@5 (Base) or runware:400@4 (distilled)")
    gen.add_argument("--lora", action="append", default=[], metavar="AIR[:WEIGHT]", help="LoRA AIR and weight (repeatable)")
    gen.add_argument("--seed", type=int)
    gen.add_argument("--width", type=int, default=1024)
    gen.add_argument("--height", type=int, default=1024)
    gen.add_argument("--steps", type=int)
    gen.add_argument("--cfg", type=float)
    gen.add_argument("--results", type=int, default=1, help="number of images")
    gen.add_argument("--negative", default="", help="negative prompt")
    gen.add_argument("--output-type", default="URL", choices=["URL", "base64Data", "dataURI"])
    gen.add_argument("--out", metavar="DIR", help="folder for the images (default: outputs/generations/runware/DATE)")
    gen.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for Runware")

    cmp = group.add("compare", "Run the test prompts locally and on Runware and save a comparison report.", run_compare)
    cmp.add_argument("run", help="run id (outputs/runs/<run>)")
    cmp.add_argument("--prompts", metavar="FILE", help="JSON list of prompts with {trigger} (default: config/test_prompts.json)")
    cmp.add_argument("--prompt", action="append", default=[], help="a prompt instead of the file (repeatable)")
    cmp.add_argument("--lora", metavar="AIR[:WEIGHT]", help="LoRA AIR (default: from the run's publish record)")
    cmp.add_argument("--strength", type=float, help="LoRA weight on both sides (default: the chosen strength)")
    cmp.add_argument("--model", default="runware:400@5", help="Runware base AIR")
    cmp.add_argument("--seed", type=int, default=7)
    cmp.add_argument("--width", type=int, default=1024)
    cmp.add_argument("--height", type=int, default=1024)
    cmp.add_argument("--steps", type=int)
    cmp.add_argument("--guidance", type=float)
    cmp.add_argument("--concurrency", type=int, default=8, help="Runware requests at once")
    cmp.add_argument("--no-local", action="store_true", help="only Runware (no local images)")
    cmp.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for each Runware image")

    reports = group.add("reports", "List a run's saved comparison reports.", run_reports)
    reports.add_argument("run")

    group.add("architecture", "Show the architecture LoRAs are registered with (from Runware or RUNWARE_ARCHITECTURE).",
              run_architecture)


def run_generate(context: Context) -> Outcome:
    args = context.args
    request = CloudRequest(args.prompt, model=args.model, loras=tuple(LoraRef.parse(x) for x in args.lora),
                           seed=args.seed, width=args.width, height=args.height, steps=args.steps, cfg=args.cfg,
                           number_results=args.results, negative_prompt=args.negative, output_type=args.output_type,
                           timeout=args.timeout)
    images = generate(context.settings, request, out_dir=Path(args.out) if args.out else None)
    cost = total_cost(images)
    today = spend.add(context.workspace, cost)
    lines = [f"{image.path}  (seed {image.seed}, {image.seconds:.1f} s)" for image in images]
    lines.append("Cost: not reported by Runware." if cost is None else f"Cost: ${cost:.4f}")
    lines.append(f"Today's Playground total (this workspace): ${today.dollars:.4f} over {today.requests} requests.")
    return Outcome({"images": [image.to_dict() for image in images], "cost": cost, "today": today.to_dict()},
                   "\n".join(lines))


def run_compare(context: Context) -> Outcome:
    args = context.args
    lora, strength = None, args.strength
    if args.lora:
        ref = LoraRef.parse(args.lora)
        lora = ref.air
        if strength is None and ":" in args.lora.rpartition("@")[2]:
            strength = ref.weight
    runner = compare_stages(
        context.settings, args.run, prompts=args.prompt or None, prompts_file=Path(args.prompts) if args.prompts else None,
        lora_air=lora, strength=strength, base_air=args.model, seed=args.seed, width=args.width, height=args.height,
        steps=args.steps, guidance=args.guidance, local=not args.no_local, concurrency=args.concurrency,
        timeout=args.timeout)
    report = drain(runner, context.progress)
    data = report.to_dict()
    counts = data["counts"]
    cost = "" if report.total_cost is None else f", cost ${report.total_cost:.4f}"
    text = (f"Report {report.status}: {report.folder / 'report.html'}\n"
            f"{counts['runware_done']}/{counts['prompts']} on Runware, {counts['local_done']}/{counts['prompts']} local"
            f"{cost}.\n{report.note}")
    for note in report.notes:
        text += f"\n{note}"
    for pair in report.pairs:
        for side, error in (("Runware", pair.cloud_error), ("local", pair.local_error)):
            if error:
                text += f"\n  prompt {pair.index + 1} ({side}): {error}"
    return Outcome(data, text, ok=report.status == "completed" and counts["runware_done"] > 0)


def run_reports(context: Context) -> Outcome:
    reports = list_reports(run_paths(context.workspace, context.args.run, must_exist=True))
    rows = [{"name": r.name, "status": r.status, "folder": str(r.folder), "counts": r.counts(),
             "total_cost": r.total_cost} for r in reports]
    text = "\n".join(f"{r['name']}  {r['status']}  {r['counts']['runware_done']}/{r['counts']['prompts']} Runware"
                     for r in rows) or "No comparison reports yet."
    return Outcome({"reports": rows}, text)


def run_architecture(context: Context) -> Outcome:
    arch = resolve_architecture(context.settings)
    return Outcome(arch.to_dict(), f"Architecture: {arch.describe()}")
