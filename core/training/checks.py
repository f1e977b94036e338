"""Checking a training config before start, in plain words.

Covers everything `mflux-train --dry-run` checks (by running mflux's own parser as a last step) and
what it does not: the model name and path, the optimizer name, LoRA layer names and block ranges for
the model's geometry, the dataset (images, a caption per image, the trigger), disk space for the
checkpoints and whether the memory preset fits this machine.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core import storage, system
from core.dataset import preview_prompts
from core.models import base as models, lora_targets
from core.training import compiled, config as train_config, estimates as train_estimates
from core.workspace import Workspace

REQUIRED = ("model", "seed", "steps", "data", "training_loop", "optimizer", "checkpoint", "lora_layers")
TOP_LEVEL = set(REQUIRED) | {"model_path", "guidance", "quantize", "max_resolution", "low_ram", "cache_limit_gb",
                             "gradient_checkpointing", "monitoring"}
LOOP_KEYS = {"num_epochs", "batch_size", "timestep_low", "timestep_high", "timestep_type"}
OPTIMIZER_KEYS = {"name", "learning_rate", "lr_schedule", "lr_warmup_steps", "lr_total_steps", "optimizer_params",
                  "max_grad_norm", "gradient_accumulation_steps"}
MONITORING_KEYS = {"generate_image_frequency", "plot_frequency", "preview_width", "preview_height", "smooth_loss",
                   "smooth_loss_window"}
OPTIMIZERS = ("AdamW", "Adam", "Adafactor", "Lion")
TIMESTEP_TYPES = (None, "uniform", "sigmoid", "content", "style")
QUANTIZE = (None, 3, 4, 5, 6, 8)
MFLUX_MODELS = ("flux2-klein-base-4b",)


LONG_RUN_SECONDS = 12 * 3600  # an estimate above this is a warning to read, not a ready-to-go


@dataclass
class Validation:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Warnings that mean "this will not just work as you expect" (a 15 GB download first, days on this machine,
    # no trigger word): the check is then not "ready", though Start is allowed. Each is also in `warnings`.
    attention: list[str] = field(default_factory=list)
    images: int = 0
    estimate: train_estimates.Estimate | None = None
    epoch: dict | None = None  # what one epoch holds (core.training.compiled.Epoch)
    epoch_line: str = ""  # "18 pictures x repeats (21) x 2 resolutions + 4 trigger-only copies = 46 samples ..."

    @property
    def ok(self) -> bool:
        """Nothing stops the training from starting."""
        return not self.errors

    @property
    def ready(self) -> bool:
        """Nothing stops it and nothing needs reading first: the green tick."""
        return self.ok and not self.attention

    def warn(self, message: str, *, attention: bool = False) -> None:
        self.warnings.append(message)
        if attention:
            self.attention.append(message)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["ok"] = self.ok
        data["ready"] = self.ready
        data["summary"] = self.summary()
        return data

    def summary(self) -> str:
        if self.errors:
            return f"{len(self.errors)} problem(s) to fix before training."
        if self.attention:
            lines = [f"Can start, but read {len(self.attention)} warning(s) first."]
        else:
            lines = ["Ready to train."]
        if self.epoch_line:
            lines.append(self.epoch_line[0].upper() + self.epoch_line[1:] + ".")
        if self.estimate:
            lines.append(self.estimate.summary())
        return " ".join(lines)


def _int(value, minimum: int | None = None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and (minimum is None or value >= minimum)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


ALIASES = {"lr": "learning_rate", "epochs": "num_epochs", "batch": "batch_size", "optimizer": "name", "type": "name",
           "warmup_steps": "lr_warmup_steps", "save_every": "save_frequency", "sample_every": "generate_image_frequency"}


def _unknown(keys, allowed: set[str], where: str) -> list[str]:
    problems = []
    for key in sorted(set(keys) - allowed):
        close = [ALIASES[key]] if ALIASES.get(key) in allowed else difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(sorted(allowed))}."
        problems.append(f"'{key}' in {where} is not a setting mflux knows; {hint}")
    return problems


def check_structure(config: dict, model_key: str) -> tuple[list[str], list[str]]:
    """What mflux's parser would reject, said in words; plus the things it only finds after loading the model."""
    errors: list[str] = []
    warnings: list[str] = []
    for key in REQUIRED:
        if key not in config:
            errors.append(f"'{key}' is missing from the config; start from a preset or add it back.")
    for key in sorted(set(config) - TOP_LEVEL):
        close = difflib.get_close_matches(key, sorted(TOP_LEVEL), n=1, cutoff=0.6)
        warnings.append(f"'{key}' is not a setting mflux reads and will be ignored" + (f"; did you mean '{close[0]}'?" if close else "."))
    model = config.get("model")
    if "model" in config and model not in MFLUX_MODELS:
        close = difflib.get_close_matches(str(model), MFLUX_MODELS, n=1, cutoff=0.5)
        errors.append(f"Model '{model}' is not one this app trains" + (f"; did you mean '{close[0]}'?" if close else "; use 'flux2-klein-base-4b'."))
    model_path = config.get("model_path")
    if model_path:
        path = Path(str(model_path)).expanduser()
        if not path.is_dir():
            errors.append(f"The model folder '{model_path}' does not exist. Fix model_path or remove it to download the weights.")
        elif not (path / "transformer").is_dir():
            errors.append(f"'{model_path}' has no transformer/ folder, so it is not a FLUX.2 klein model. Point model_path at the model's folder.")
    if "seed" in config and not _int(config["seed"]):
        errors.append(f"seed must be a whole number, not {config['seed']!r}.")
    steps = config.get("steps")
    if "steps" in config and not _int(steps, 1):
        errors.append(f"steps (the scheduler's steps for previews) must be a whole number of at least 1, not {steps!r}.")
    if config.get("guidance") is not None and not _number(config.get("guidance")):
        errors.append(f"guidance must be a number, not {config.get('guidance')!r}.")
    if config.get("quantize") not in QUANTIZE:
        errors.append(f"quantize must be empty (null) or one of 3, 4, 5, 6, 8 bits, not {config.get('quantize')!r}.")
    resolution = config.get("max_resolution")
    if resolution is not None and not _int(resolution, 16):
        errors.append(f"max_resolution must be a whole number of pixels (at least 16), not {resolution!r}.")
    elif resolution is not None and resolution % 16:
        warnings.append(f"max_resolution {resolution} is not a multiple of 16; mflux rounds each side down to a multiple of 16.")
    if config.get("cache_limit_gb") is not None and not (_number(config["cache_limit_gb"]) and config["cache_limit_gb"] > 0):
        errors.append(f"cache_limit_gb must be a positive number of GB or null, not {config['cache_limit_gb']!r}.")
    if not isinstance(config.get("data", ""), str):
        errors.append("data must be the path of the dataset's images folder (text).")

    loop = config.get("training_loop")
    if "training_loop" in config and not isinstance(loop, dict):
        errors.append("training_loop must be an object with num_epochs and batch_size.")
    elif isinstance(loop, dict):
        errors += _unknown(loop, LOOP_KEYS, "training_loop")
        if not _int(loop.get("num_epochs"), 1):
            errors.append(f"training_loop.num_epochs (epochs) must be a whole number of at least 1, not {loop.get('num_epochs')!r}.")
        if not _int(loop.get("batch_size"), 1):
            errors.append(f"training_loop.batch_size must be a whole number of at least 1, not {loop.get('batch_size')!r}.")
        low, high = loop.get("timestep_low", 0), loop.get("timestep_high")
        high_value = steps if high is None else high
        if not _int(low, 0):
            errors.append(f"training_loop.timestep_low must be 0 or more, not {low!r}.")
        elif _int(high_value) and _int(steps):
            if high_value <= 0:
                errors.append("training_loop.timestep_high must be more than 0.")
            elif low >= high_value:
                errors.append(f"training_loop.timestep_low ({low}) must be smaller than timestep_high ({high_value}).")
            elif high_value > steps:
                errors.append(f"training_loop.timestep_high ({high_value}) cannot be more than steps ({steps}); lower it or raise steps.")
        if loop.get("timestep_type") not in TIMESTEP_TYPES:
            errors.append(f"training_loop.timestep_type must be uniform, sigmoid, content or style, not {loop.get('timestep_type')!r}.")

    optimizer = config.get("optimizer")
    if "optimizer" in config and not isinstance(optimizer, dict):
        errors.append("optimizer must be an object with name and learning_rate.")
    elif isinstance(optimizer, dict):
        errors += _unknown(optimizer, OPTIMIZER_KEYS, "optimizer")
        name = optimizer.get("name")
        if name not in OPTIMIZERS:
            same = [o for o in OPTIMIZERS if o.lower() == str(name).lower().replace("8bit", "")]
            close = same or difflib.get_close_matches(str(name), OPTIMIZERS, n=1, cutoff=0.5)
            errors.append(f"Optimizer '{name}' is not one mflux has" + (f"; did you mean '{close[0]}'?" if close else f"; use one of {', '.join(OPTIMIZERS)}."))
        rate = optimizer.get("learning_rate")
        if not (_number(rate) and 0 < rate < 1):
            errors.append(f"learning_rate must be a small positive number such as 0.0001, not {rate!r}.")
        elif rate > 0.001 and model_key != "selftest":
            warnings.append(f"learning_rate {rate} is high for a FLUX LoRA; 0.0001 is usual and above 0.0005 often burns the image.")
        if optimizer.get("lr_schedule") not in (None, "cosine"):
            errors.append(f"optimizer.lr_schedule must be null (constant) or 'cosine', not {optimizer.get('lr_schedule')!r}.")
        params = optimizer.get("optimizer_params", {})
        if params is not None and not isinstance(params, dict):
            errors.append("optimizer.optimizer_params must be an object such as {\"weight_decay\": 0.01}.")

    checkpoint = config.get("checkpoint")
    if "checkpoint" in config and not isinstance(checkpoint, dict):
        errors.append("checkpoint must be an object with save_frequency.")
    elif isinstance(checkpoint, dict) and not _int(checkpoint.get("save_frequency"), 1):
        errors.append(f"checkpoint.save_frequency (save every N steps) must be a whole number of at least 1, not {checkpoint.get('save_frequency')!r}.")

    monitoring = config.get("monitoring")
    if monitoring is not None and not isinstance(monitoring, dict):
        errors.append("monitoring must be an object (or removed to turn previews off).")
    elif isinstance(monitoring, dict):
        errors += _unknown(monitoring, MONITORING_KEYS, "monitoring")
        if not _int(monitoring.get("generate_image_frequency"), 1):
            errors.append("monitoring.generate_image_frequency (preview every N steps) must be a whole number of at least 1.")
        for key in ("plot_frequency", "preview_width", "preview_height"):
            if key in monitoring and not _int(monitoring[key], 1):
                errors.append(f"monitoring.{key} must be a whole number of at least 1, not {monitoring[key]!r}.")
        if monitoring.get("smooth_loss") and not _int(monitoring.get("smooth_loss_window", 5), 2):
            errors.append("monitoring.smooth_loss_window must be at least 2 when smooth_loss is on.")

    layers = config.get("lora_layers")
    targets = layers.get("targets") if isinstance(layers, dict) else None
    if "lora_layers" in config and not isinstance(targets, list):
        errors.append("lora_layers.targets must be a list of layers to train; pick 'Which layers' in the form.")
    elif isinstance(targets, list):
        if not targets:
            errors.append("lora_layers.targets is empty, so nothing would be trained; pick 'Which layers' in the form.")
        geometry = lora_targets.geometry_for(model_key)
        for index, target in enumerate(targets):
            errors += lora_targets.check_target(target, index, geometry)
            if isinstance(target, dict) and target.get("alpha") is not None:
                warnings.append(f"LoRA target {index + 1} sets alpha; mflux saves no alpha, so the LoRA loads too strong elsewhere. Remove it.")
    return errors, warnings


def mflux_dry_run(config: dict, data_dir: Path) -> str | None:
    """Run mflux's own config parser (what `mflux-train --dry-run` does); None when it accepts the config."""
    import json
    import tempfile

    from mflux.models.common.training.state.training_spec import TrainingSpec

    with tempfile.TemporaryDirectory(prefix="dry-run-") as folder:
        trial = dict(config)
        trial["data"] = str(data_dir)
        trial["checkpoint"] = {**(config.get("checkpoint") or {}), "output_path": str(Path(folder) / "out")}
        path = Path(folder) / "train.json"
        path.write_text(json.dumps(trial))
        try:
            TrainingSpec.resolve(config_path=str(path), resume_path=None, create_output_dir=False)
        except Exception as error:  # mflux raises ValueError, TypeError, KeyError
            return f"mflux rejected the config: {error}"
    return None


def validate(
    plan: train_config.TrainPlan,
    workspace: Workspace,
    *,
    cache_dir: Path | None = None,
    backend: str | None = None,
    memory_gb: float | None = None,
    history: list[float] | None = None,
    preview_history: list[float] | None = None,
    use_mflux: bool = True,
) -> Validation:
    """Everything that would stop or spoil the training of `plan` (its train.json as `plan.config(workspace,
    cache_dir)` makes it), said in words, with the estimate."""
    config = plan.config(workspace, cache_dir)
    result = Validation()
    errors, warnings = check_structure(config, plan.model)
    result.errors += errors
    result.warnings += warnings
    result.errors += compiled.check_levers(plan)
    readiness = train_config.dataset_readiness(workspace, plan.dataset, plan.trigger, plan.top_resolution)
    result.errors += readiness.errors
    result.warnings += readiness.warnings
    result.images = readiness.images
    samples = readiness.images
    if readiness.images and not result.errors:
        epoch = compiled.plan_epoch(workspace, plan)
        samples = epoch.samples
        result.epoch = epoch.to_dict()
        result.epoch_line = epoch.summary(plan.epochs, plan.batch_size)
        for warning in compiled.dominating(workspace, plan):
            result.warn(warning)
    if not plan.trigger.strip():
        result.warn("No trigger word is set: without one the LoRA has no word that calls the character in prompts. "
                    "Type one in 'Trigger word' (a rare made-up word such as m1ra) and put it in the captions.",
                    attention=True)
    if plan.model == "flux2-klein-base-4b" and not config.get("model_path"):
        if not models.weights_in_cache(models.KLEIN_BASE_4B):
            result.warn("The FLUX.2 klein Base 4B weights are not downloaded yet: Start first downloads about 15 GB "
                        "before the first step.", attention=True)
    if backend is None:
        backend = system.backend()
    slow_machine = backend not in ("metal", "cuda") and plan.model != "selftest"
    if slow_machine:
        result.warn("This machine's MLX has no GPU (neither Metal nor CUDA): training the real 4B model on the CPU "
                    "would take days. Use the self-test model here.", attention=True)
    if readiness.images:
        images_dir = workspace.dataset_images_dir(plan.dataset)
        prompts = len(plan.preview_prompts) or len(preview_prompts.read(images_dir))
        result.estimate = train_estimates.estimate(config, samples, plan.model, backend, history,
                                                   prompt_count=prompts, preview_history=preview_history,
                                                   resolutions=compiled.resolutions_of(plan))
        if result.estimate.iterations == 0:
            result.errors.append("This config trains 0 steps; raise the epochs.")
        elif result.estimate.eta_seconds[0] >= LONG_RUN_SECONDS and not slow_machine:
            low, high = result.estimate.eta_seconds
            result.warn(f"This training would take about {train_estimates.format_duration(low)}–"
                        f"{train_estimates.format_duration(high)} here. Fewer epochs, a lower resolution or fewer "
                        "previews make it shorter.", attention=True)
        free = storage.free_bytes(workspace.runs_dir)
        need = result.estimate.checkpoint_bytes + 200_000_000
        if free < need:
            result.errors.append(
                f"Not enough disk space for the checkpoints: about {need / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free. "
                "Free some space or save checkpoints less often."
            )
    if memory_gb:
        fits = train_config.memory_preset_for(memory_gb)
        chosen = _matching_memory_preset(config)
        if chosen is not None and chosen.peak_gb and chosen.peak_gb > memory_gb * 0.8 and plan.model != "selftest":
            result.warnings.append(
                f"These memory settings ({chosen.label}) need about {chosen.peak_gb:.0f} GB; this machine has {memory_gb:.0f} GB. "
                f"Pick the '{fits.label}' memory preset to avoid running out of memory."
            )
    if use_mflux and not result.errors and readiness.images:
        rejected = mflux_dry_run(config, workspace.dataset_images_dir(plan.dataset))
        if rejected:
            result.errors.append(rejected)
    return result


def _matching_memory_preset(config: dict) -> train_config.Preset | None:
    for preset in train_config.list_presets():
        if preset.kind != "memory":
            continue
        keys = ("quantize", "gradient_checkpointing", "low_ram", "max_resolution", "cache_limit_gb")
        if all(config.get(k) == preset.settings.get(k) for k in keys):
            return preset
    return None
