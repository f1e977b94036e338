"""Import an ai-toolkit LoRA config (FLUX.1 Dev, YAML) into the Train form, with a report.

Each setting lands in one of three lists: carried over as is, adapted to FLUX.2 klein / mflux (with
the reason), or without an equivalent here (with what to do instead). Nothing is silently dropped.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from core.errors import AiToolkitImportError
from core.training import compiled
from core.training.config import TrainPlan

OPTIMIZERS = {"adamw": "AdamW", "adamw8bit": "AdamW", "adam": "Adam", "adam8bit": "Adam", "adafactor": "Adafactor", "lion": "Lion", "lion8bit": "Lion"}


@dataclass
class Imported:
    plan: TrainPlan  # the plan with the ai-toolkit settings applied, its raw train.json in sync
    carried: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def report_lines(self) -> list[str]:
        return ([f"carried over: {x}" for x in self.carried] + [f"adapted to klein: {x}" for x in self.adapted]
                + [f"no equivalent: {x}" for x in self.missing])

    def report_markdown(self) -> str:
        parts = []
        for title, rows in (("Carried over", self.carried), ("Adapted to FLUX.2 klein", self.adapted), ("No equivalent here", self.missing)):
            if rows:
                parts.append(f"**{title}**\n" + "\n".join(f"- {row}" for row in rows))
        return "\n\n".join(parts) or "Nothing to import."

    def to_dict(self) -> dict:
        return {"form": self.plan.to_dict(), "config": self.plan.raw, "carried": self.carried, "adapted": self.adapted, "missing": self.missing}


def _process(data: dict) -> dict:
    try:
        processes = data["config"]["process"]
        process = processes[0] if isinstance(processes, list) else processes
    except (KeyError, TypeError, IndexError):
        raise AiToolkitImportError(
            "This YAML is not an ai-toolkit training config (no config.process section).",
            "Pick the .yaml you trained with in ai-toolkit (from its config/ folder).",
        ) from None
    if not isinstance(process, dict):
        raise AiToolkitImportError("The config.process entry of this YAML is not a mapping.", "Pick the ai-toolkit .yaml you trained with.")
    return process


def import_yaml(text: str, plan: TrainPlan, image_count: int | None = None) -> Imported:
    """The plan with the ai-toolkit settings applied, and the report."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise AiToolkitImportError(f"The YAML file cannot be read{where}.", "Check that it is the ai-toolkit config file, unedited.") from None
    if not isinstance(data, dict):
        raise AiToolkitImportError("The YAML file is empty or not a mapping.", "Pick the ai-toolkit .yaml you trained with.")
    process = _process(data)
    plan = copy.deepcopy(plan)
    config = plan.raw  # the raw train.json, changed in place for settings the form does not show
    out = Imported(plan=plan)
    network = process.get("network") or {}
    save = process.get("save") or {}
    datasets = process.get("datasets") or [{}]
    dataset = datasets[0] if isinstance(datasets, list) and datasets and isinstance(datasets[0], dict) else {}
    train = process.get("train") or {}
    model = process.get("model") or {}
    sample = process.get("sample") or {}

    trigger = process.get("trigger_word")
    if trigger:
        plan.trigger = str(trigger)
        out.carried.append(f"trigger word '{trigger}'")
    if network.get("linear"):
        plan.rank = int(network["linear"])
        out.carried.append(f"rank {plan.rank} (network.linear)")
    alpha = network.get("linear_alpha")
    if alpha is not None and network.get("linear") and alpha != network.get("linear"):
        out.adapted.append(f"linear_alpha {alpha}: mflux trains at alpha = rank (scale 1) and saves no alpha; lower the learning rate if it burns")
    if network.get("network_kwargs"):
        out.missing.append("network_kwargs (layer filters): choose 'Which layers' in the form instead")
    plan.layers = "all"
    if save.get("save_every"):
        plan.save_every = int(save["save_every"])
        out.carried.append(f"save every {plan.save_every} steps")
    if save.get("max_step_saves_to_keep"):
        out.missing.append(f"max_step_saves_to_keep {save['max_step_saves_to_keep']}: mflux keeps every checkpoint; keep the newest with `python -m core checkpoints prune RUN --keep {save['max_step_saves_to_keep']}` or the Checkpoints tab's Keep newest (older ones go to the trash)")
    if save.get("dtype"):
        out.adapted.append(f"save dtype {save['dtype']}: mflux saves the adapter in float32")
    if save.get("push_to_hub"):
        out.missing.append("push_to_hub: publish from the Publish tab after picking a checkpoint")
    if dataset.get("folder_path"):
        out.missing.append(f"dataset folder {dataset['folder_path']}: import it in the Dataset tab (captions come along)")
    dropout = dataset.get("caption_dropout_rate")
    if dropout:
        rate = float(dropout)
        plan.trigger_only = min(max(rate, 0.0), 0.5)
        word = f"'{plan.trigger}'" if plan.trigger else "the trigger word (set one: without it the share cannot train)"
        text = (f"caption_dropout_rate {dropout} -> trigger-only share {plan.trigger_only:.0%}: that many extra samples "
                f"are captioned with {word} alone (ai-toolkit drops the caption of that share instead)")
        if rate > 0.5:
            text += "; capped at 50 %"
        out.adapted.append(text)
    repeats = dataset.get("num_repeats")
    if repeats is not None and int(repeats) != 1:
        count = int(repeats)
        out.adapted.append(f"num_repeats {count}: ai-toolkit repeats every picture alike, which under a step count only "
                           "regroups the shuffle, so the steps carry over unchanged; to weigh single pictures give them "
                           f"a repeat count (Dataset tab, or `python -m core dataset repeat NAME STEM... {min(max(count, 1), 50)}`)")
    resolution = dataset.get("resolution")
    if resolution:
        sizes = resolution if isinstance(resolution, list) else [resolution]
        numbers = sorted({int(s) for s in sizes})
        plan.max_resolution = numbers[-1]
        if len(numbers) > 1:
            plan.resolutions = numbers
            out.carried.append(f"resolutions {', '.join(map(str, numbers))} (each picture trained at each; aspect ratio kept, no crop)")
        else:
            plan.resolutions = []
            out.carried.append(f"resolution {plan.max_resolution}")
    if dataset.get("cache_latents_to_disk") or dataset.get("cache_latents"):
        out.adapted.append("cache_latents: mflux always encodes the images once before training (low RAM keeps them on disk)")

    batch = int(train.get("batch_size") or 1)
    plan.batch_size = batch
    if train.get("steps"):
        steps = int(train["steps"])
        pictures = image_count or 20
        epoch = compiled.epoch_of([str(i) for i in range(pictures)], {}, compiled.resolutions_of(plan), plan.trigger_only)
        per_epoch = math.ceil(epoch.samples / batch)
        plan.epochs = max(1, math.ceil(steps / per_epoch))
        basis = f"{image_count} images" if image_count else "20 images (set the dataset to recompute)"
        if epoch.samples != pictures:
            basis += f", {epoch.samples} samples an epoch"
        out.adapted.append(f"{steps} steps -> {plan.epochs} epochs (mflux counts epochs; {basis}, batch {batch})")
    if train.get("lr"):
        plan.learning_rate = float(train["lr"])
        out.carried.append(f"learning rate {plan.learning_rate:g}")
    if train.get("gradient_checkpointing") is not None:
        plan.gradient_checkpointing = bool(train["gradient_checkpointing"])
        out.carried.append(f"gradient checkpointing {'on' if plan.gradient_checkpointing else 'off'}")
    accumulation = train.get("gradient_accumulation_steps") or train.get("gradient_accumulation")
    if accumulation:
        config.setdefault("optimizer", {})["gradient_accumulation_steps"] = int(accumulation)
        out.carried.append(f"gradient accumulation {accumulation}")
    name = str(train.get("optimizer") or "")
    if name:
        mapped = OPTIMIZERS.get(name.lower())
        if mapped:
            config.setdefault("optimizer", {})["name"] = mapped
            (out.carried if mapped.lower() == name.lower() else out.adapted).append(
                f"optimizer {name}" + ("" if mapped.lower() == name.lower() else f" -> {mapped} (MLX has no 8-bit optimizers)"))
        else:
            config.setdefault("optimizer", {})["name"] = "AdamW"
            out.missing.append(f"optimizer {name}: not in mflux; AdamW is used")
    timestep = str(train.get("timestep_type") or "").lower()
    if timestep in ("sigmoid", "linear", "uniform"):
        config.setdefault("training_loop", {})["timestep_type"] = "sigmoid" if timestep == "sigmoid" else "uniform"
        out.carried.append(f"timestep type {timestep}")
    elif train.get("linear_timesteps"):
        config.setdefault("training_loop", {})["timestep_type"] = "uniform"
        out.adapted.append("linear_timesteps -> uniform timestep sampling")
    bias = str(train.get("content_or_style") or "").lower()
    if bias in ("content", "style"):
        config.setdefault("training_loop", {})["timestep_type"] = bias
        out.carried.append(f"content_or_style {bias}")
    if train.get("noise_scheduler"):
        out.adapted.append(f"noise scheduler {train['noise_scheduler']}: FLUX.2 klein trains with flow matching (mflux's own)")
    if (train.get("ema_config") or {}).get("use_ema"):
        out.missing.append("EMA: mflux has no EMA of the LoRA weights; compare checkpoints in the Checkpoints tab instead")
    if train.get("train_text_encoder"):
        out.missing.append("train_text_encoder: mflux trains the transformer only")
    if train.get("disable_sampling"):
        plan.preview_every = 0
        out.carried.append("sampling disabled (no previews)")
    if train.get("dtype"):
        out.adapted.append(f"dtype {train['dtype']}: mflux trains in bfloat16")

    base = str(model.get("name_or_path") or "")
    if base:
        out.adapted.append(f"base model {base} -> FLUX.2 klein Base 4B (a FLUX.1 LoRA cannot be reused; it is trained again)")
    plan.model = "flux2-klein-base-4b" if plan.model != "selftest" else "selftest"
    if model.get("quantize"):
        plan.quantize = 8
        out.adapted.append("quantize: true -> 8-bit weights")
    if model.get("low_vram"):
        plan.low_ram = True
        out.adapted.append("low_vram -> low RAM (encoded images kept on disk)")

    if sample.get("sample_every") and not train.get("disable_sampling"):
        plan.preview_every = int(sample["sample_every"])
        out.carried.append(f"preview every {plan.preview_every} steps")
    prompts = sample.get("prompts") or []
    if prompts:
        word = plan.trigger or "the trigger word"
        plan.preview_prompts = [str(p).replace("[trigger]", plan.trigger or "[trigger]") for p in prompts]
        replaced = any("[trigger]" in str(p) for p in prompts)
        (out.adapted if replaced else out.carried).append(
            f"{len(prompts)} sample prompt(s)" + (f" ([trigger] replaced by '{word}')" if replaced else ""))
    monitoring = config.get("monitoring") or {}
    if sample.get("width") and sample.get("height"):
        monitoring.update(preview_width=int(sample["width"]), preview_height=int(sample["height"]))
        out.carried.append(f"preview size {sample['width']}x{sample['height']}")
    if sample.get("guidance_scale") is not None:
        config["guidance"] = float(sample["guidance_scale"])
        out.carried.append(f"guidance {sample['guidance_scale']}")
    if sample.get("sample_steps"):
        config["steps"] = int(sample["sample_steps"])
        config.setdefault("training_loop", {})["timestep_high"] = int(sample["sample_steps"])
        out.adapted.append(f"sample steps {sample['sample_steps']} -> scheduler steps (also the training timestep range)")
    if sample.get("seed") is not None:
        plan.seed = int(sample["seed"])
        out.adapted.append(f"sample seed {plan.seed} -> the run's seed (mflux previews use it)")
    if sample.get("neg"):
        out.missing.append("negative prompt: mflux training previews have none")
    if sample.get("walk_seed"):
        out.missing.append("walk_seed: previews use one fixed seed, so they compare across checkpoints")
    if monitoring:
        config["monitoring"] = monitoring
    out.plan = plan.synced()
    return out


def import_file(path, plan: TrainPlan, image_count: int | None = None) -> Imported:
    from pathlib import Path

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise AiToolkitImportError(f"{Path(path).name} cannot be read as text.", "Pick the ai-toolkit .yaml file itself.") from None
    return import_yaml(text, plan, image_count)
