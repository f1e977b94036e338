"""`generate --prompt ...`: local images through the warm engine, saved with their settings."""

from __future__ import annotations

from core.cli import Commands, Context, Outcome
from core.generation import local as generation


def _lora(text: str) -> tuple[str, float]:
    path, _, scale = text.rpartition(":")
    if path and scale.replace(".", "", 1).replace("-", "", 1).isdigit():
        return path, float(scale)
    return text, 1.0


def register(commands: Commands) -> None:
    parser = commands.add("generate", "Generate images locally (one warm model; LoRAs with strengths).", run)
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--lora", type=_lora, action="append", default=[], metavar="FILE[:SCALE]")
    parser.add_argument("--model", default="flux2-klein-base-4b", help="flux2-klein-base-4b, flux2-klein-4b or selftest")
    parser.add_argument("--seed", type=int, help="default: random (printed)")
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--steps", type=int, help="default: the model's")
    parser.add_argument("--guidance", type=float)
    parser.add_argument("--quantize", type=int, choices=[3, 4, 5, 6, 8])
    parser.add_argument("--count", type=int, default=1)


def run(context: Context) -> Outcome:
    a = context.args
    request = generation.GenerateRequest(prompt=a.prompt, model=a.model, seed=a.seed, width=a.width, height=a.height, steps=a.steps,
                                         guidance=a.guidance, loras=a.lora, quantize=a.quantize, count=a.count)
    images = []
    for event in generation.run(context.workspace, request, settings=context.settings):
        context.progress(event)
        if event.result is not None:
            images.append(event.result)
    text = "\n".join(f"{i.path}  (seed {i.settings['seed']})" for i in images)
    return Outcome({"images": [i.to_dict() for i in images]}, text)
