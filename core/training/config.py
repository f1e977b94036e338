"""The training plan: the fields a person edits and the full mflux train.json, kept in sync.

A `TrainPlan` holds the fields people change (the Train tab's form, the CLI's flags, what an ai-toolkit
config carries over) and `raw`, the mflux 0.24.0 train.json as last written or edited, which keeps every
key the form does not show. `TrainPlan.config()` is the one place the train.json handed to mflux is
made from a plan; `TrainPlan.from_config()` the one place a train.json is read back into one, so the
form and the raw JSON editor never disagree. Shipped defaults: `config/train.json`; presets:
`config/presets/*.json` (by memory and by goal) plus presets the person saves (`outputs/presets/`).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from core import storage, system
from core.constants import GIB
from core.dataset.images import list_images
from core.models import lora_targets, selftest_model
from core.errors import ConfigError, NotFound
from core.settings import CONFIG_DIR
from core.workspace import check_name, Workspace
from core.dataset import preflight

DEFAULTS_PATH = CONFIG_DIR / "train.json"
PRESETS_DIR = CONFIG_DIR / "presets"
PLACEHOLDER = "(set when the run starts)"


@dataclass
class TrainPlan:
    """One training's settings: the form's fields, and the raw train.json they are written into."""

    dataset: str = ""
    trigger: str = ""
    model: str = "flux2-klein-base-4b"  # a core.models.base key: flux2-klein-base-4b or selftest
    epochs: int = 75
    batch_size: int = 1
    learning_rate: float = 1e-4
    rank: int = 16
    layers: str = "all"  # a lora_targets.LAYER_CHOICES key, or "custom" (targets edited as JSON)
    max_resolution: int = 1024
    # Several training resolutions (each picture trained at each; [] = just max_resolution, which then is their
    # largest) and the share of extra trigger-only samples (0-0.5): core.training.compiled builds them.
    resolutions: list[int] = field(default_factory=list)
    trigger_only: float = 0.0
    quantize: int | None = None
    gradient_checkpointing: bool = True
    low_ram: bool = False
    save_every: int = 250
    preview_every: int = 250  # 0 = no previews and no loss plot from mflux
    seed: int = 42
    preview_prompts: list[str] = field(default_factory=list)
    # The mflux train.json as last written or edited: every key the fields above do not set is kept from here.
    raw: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        """The form's fields (run.json's "form", a saved preset's settings), without the raw train.json."""
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name != "raw"}

    @classmethod
    def from_dict(cls, data: dict, raw: dict | None = None) -> "TrainPlan":
        known = {f.name for f in fields(cls)} - {"raw"}
        return cls(**{k: v for k, v in (data or {}).items() if k in known}, raw=copy.deepcopy(raw or {}))

    def config(self, workspace: Workspace | None = None, cache_dir: Path | None = None) -> dict:
        """The train.json of this plan: a copy of `raw` with the fields written in (every other key kept).
        With a workspace, `data` is the dataset's images folder; with a cache folder, the self-test
        model's `model_path` is set."""
        config = copy.deepcopy(self.raw)
        config["model"] = "flux2-klein-base-4b"
        if self.model == "selftest" and cache_dir is not None:
            config["model_path"] = str(selftest_model.default_dir(cache_dir))
        elif self.model != "selftest":
            config.pop("model_path", None)
        if workspace is not None and self.dataset:
            config["data"] = str(workspace.dataset_images_dir(self.dataset))
        config["seed"] = self.seed
        config["max_resolution"] = self.top_resolution
        config["quantize"] = self.quantize
        config["gradient_checkpointing"] = bool(self.gradient_checkpointing)
        config["low_ram"] = bool(self.low_ram)
        loop = config.setdefault("training_loop", {})
        loop["num_epochs"] = self.epochs
        loop["batch_size"] = self.batch_size
        optimizer = config.setdefault("optimizer", {"name": "AdamW"})
        optimizer["learning_rate"] = self.learning_rate
        if optimizer.get("lr_schedule") == "cosine":
            optimizer["lr_total_steps"] = None  # filled from the iteration count at start
        checkpoint = config.setdefault("checkpoint", {"output_path": PLACEHOLDER})
        checkpoint["save_frequency"] = self.save_every
        checkpoint.setdefault("output_path", PLACEHOLDER)
        if self.preview_every and self.preview_every > 0:
            defaults = default_config().get("monitoring", {})
            monitoring = config.get("monitoring") or defaults
            monitoring["generate_image_frequency"] = self.preview_every
            config["monitoring"] = monitoring
        else:
            config.pop("monitoring", None)
        geometry = lora_targets.geometry_for(self.model)
        if self.layers in lora_targets.LAYER_CHOICES:
            config["lora_layers"] = {"targets": lora_targets.build_targets(self.layers, self.rank, geometry)}
        else:
            targets = (config.get("lora_layers") or {}).get("targets") or []
            for target in targets:
                if isinstance(target, dict):
                    target["rank"] = self.rank
        return config

    @classmethod
    def from_config(cls, config: dict, dataset: str = "", trigger: str = "",
                    preview_prompts: list[str] | None = None) -> "TrainPlan":
        """The plan of a train.json (kept as its raw; values that are missing or malformed keep the defaults)."""
        plan = cls(dataset=dataset, trigger=trigger, preview_prompts=list(preview_prompts or []), raw=copy.deepcopy(config))
        plan.model = model_key_of(config)

        def pick(value, kind, default):
            try:
                return kind(value) if value is not None else default
            except (TypeError, ValueError):
                return default

        loop = config.get("training_loop") or {}
        optimizer = config.get("optimizer") or {}
        checkpoint = config.get("checkpoint") or {}
        monitoring = config.get("monitoring")
        plan.epochs = pick(loop.get("num_epochs"), int, plan.epochs)
        plan.batch_size = pick(loop.get("batch_size"), int, plan.batch_size)
        plan.learning_rate = pick(optimizer.get("learning_rate"), float, plan.learning_rate)
        plan.max_resolution = pick(config.get("max_resolution"), int, plan.max_resolution)
        plan.quantize = pick(config.get("quantize"), int, None)
        plan.gradient_checkpointing = bool(config.get("gradient_checkpointing", False))
        plan.low_ram = bool(config.get("low_ram", False))
        plan.save_every = pick(checkpoint.get("save_frequency"), int, plan.save_every)
        plan.preview_every = pick(monitoring.get("generate_image_frequency"), int, 0) if isinstance(monitoring, dict) else 0
        plan.seed = pick(config.get("seed"), int, plan.seed)
        targets = (config.get("lora_layers") or {}).get("targets") or []
        layers, rank = lora_targets.describe_targets(targets)
        plan.layers = layers
        if rank is not None:
            plan.rank = rank
        return plan

    @property
    def top_resolution(self) -> int:
        """mflux's max_resolution: the largest of several resolutions, else max_resolution."""
        numbers = [r for r in self.resolutions or [] if isinstance(r, int) and not isinstance(r, bool)]
        return max(numbers) if numbers else self.max_resolution

    def synced(self) -> "TrainPlan":
        """The plan as the raw editor shows it: its fields written into the train.json and read back from it."""
        plan = TrainPlan.from_config(self.config(), self.dataset, self.trigger, self.preview_prompts)
        plan.model = self.model
        plan.resolutions, plan.trigger_only = list(self.resolutions or []), self.trigger_only  # not in train.json
        return plan


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str  # "memory", "goal" or "saved"
    label: str
    description: str
    settings: dict
    memory_gb: int | None = None
    peak_gb: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Readiness:
    """A dataset's minimal readiness for training: images, a caption per image, the trigger word."""

    images: int
    captioned: int
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.errors


# ---- defaults and presets -------------------------------------------------------------------

def default_config() -> dict:
    return copy.deepcopy(storage.read_json(DEFAULTS_PATH))


def _preset_from(name: str, data: dict, kind: str | None = None) -> Preset:
    return Preset(
        name=name,
        kind=kind or data.get("kind", "goal"),
        label=data.get("label", name),
        description=data.get("description", ""),
        settings=data.get("settings", {}),
        memory_gb=data.get("memory_gb"),
        peak_gb=data.get("peak_gb"),
    )


def user_presets_dir(workspace: Workspace) -> Path:
    return workspace.outputs_dir / "presets"


def list_presets(workspace: Workspace | None = None) -> list[Preset]:
    """Shipped presets (memory by size, then goals) and, with a workspace, the person's saved ones."""
    presets = [_preset_from(p.stem, storage.read_json(p, {}) or {}) for p in sorted(PRESETS_DIR.glob("*.json"))]
    presets.sort(key=lambda p: (p.kind != "memory", p.memory_gb or 0, p.name))
    if workspace is not None and user_presets_dir(workspace).is_dir():
        for path in sorted(user_presets_dir(workspace).glob("*.json")):
            presets.append(_preset_from(path.stem, storage.read_json(path, {}) or {}, kind="saved"))
    return presets


def get_preset(name: str, workspace: Workspace | None = None) -> Preset:
    for preset in list_presets(workspace):
        if preset.name == name:
            return preset
    names = ", ".join(p.name for p in list_presets(workspace))
    raise NotFound(f"There is no preset named '{name}'.", f"Choose one of: {names}.")


def memory_preset_for(memory_gb: float) -> Preset:
    """The memory preset for a machine: the largest one whose size is at most the machine's memory."""
    memory = [p for p in list_presets() if p.kind == "memory"]
    fitting = [p for p in memory if (p.memory_gb or 0) <= memory_gb + 0.5]
    return fitting[-1] if fitting else memory[0]


def machine_memory_gb() -> float:
    return round(system.memory().total / GIB, 1)


def save_preset(workspace: Workspace, name: str, plan: TrainPlan) -> Preset:
    """Save the plan (its fields and raw config) as a named preset (an older one of that name goes to the trash)."""
    name = check_name(name, "preset")
    path = user_presets_dir(workspace) / f"{name}.json"
    if path.exists():
        storage.move_to_trash(path, workspace.trash_dir)
    settings = {k: v for k, v in plan.to_dict().items() if k not in ("dataset", "trigger", "preview_prompts")}
    raw = {k: v for k, v in plan.config().items() if k not in ("data", "model_path")}
    raw.get("checkpoint", {}).pop("output_path", None)
    data = {"kind": "saved", "label": name, "description": "Saved by you.", "settings": {**settings, "raw": raw}}
    storage.write_json(path, data)
    return _preset_from(name, data, kind="saved")


def apply_preset(plan: TrainPlan, preset: Preset, image_count: int | None = None) -> TrainPlan:
    """The plan with the preset's settings applied (other fields and raw keys untouched)."""
    config = copy.deepcopy(plan.raw)
    values = plan.to_dict()
    settings = dict(preset.settings)
    raw = settings.pop("raw", None)
    if raw:
        config = deep_merge(plan.config(), raw)  # sync the fields first so they are not lost
        values.update(TrainPlan.from_config(config, plan.dataset, plan.trigger, plan.preview_prompts).to_dict())
        values["model"] = plan.model
        values["resolutions"], values["trigger_only"] = list(plan.resolutions or []), plan.trigger_only
    target = settings.pop("target_iterations", None)
    if "cache_limit_gb" in settings:
        config["cache_limit_gb"] = settings.pop("cache_limit_gb")
    for key, value in settings.items():
        if key in values:
            values[key] = value
    if "max_resolution" in settings and "resolutions" not in settings and values.get("resolutions"):
        # a memory preset's resolution is a ceiling: several resolutions above it are dropped
        kept = [r for r in values["resolutions"] if isinstance(r, int) and r <= int(settings["max_resolution"])]
        values["resolutions"] = kept
    if target:
        per_epoch = math.ceil((image_count or 20) / max(1, int(values.get("batch_size") or 1)))
        values["epochs"] = max(1, math.ceil(target / per_epoch))
    return TrainPlan.from_dict(values, raw=config)


_MODEL_NAMES = {"selftest": "the self-test model (tiny)", "flux2-klein-base-4b": "FLUX.2 klein Base 4B"}


def model_label(model_key: str) -> str:
    return _MODEL_NAMES.get(model_key, model_key)


def _describe_setting(key: str, plan: TrainPlan, image_count: int | None) -> str | None:
    """One form value in words, as the form now shows it."""
    value = getattr(plan, key, None)
    if key == "model":
        return f"model {model_label(plan.model)}"
    if key in ("epochs", "target_iterations"):
        per_epoch = math.ceil((image_count or 20) / max(1, plan.batch_size))
        where = f"{image_count} images" if image_count else "20 images assumed: pick the dataset first for its own count"
        return f"{plan.epochs} epoch(s) = {plan.epochs * per_epoch} steps ({where})"
    if key == "learning_rate":
        return f"learning rate {plan.learning_rate:g}"
    if key == "rank":
        return f"rank {plan.rank}"
    if key == "layers":
        return f"layers: {lora_targets.LAYER_CHOICES.get(plan.layers, plan.layers).split(' (')[0].lower()}"
    if key == "max_resolution":
        return f"{plan.max_resolution} px"
    if key == "quantize":
        return "full-precision weights" if plan.quantize is None else f"{plan.quantize}-bit weights"
    if key in ("gradient_checkpointing", "low_ram"):
        return f"{key.replace('_', ' ').replace('ram', 'RAM')} {'on' if value else 'off'}"
    if key == "save_every":
        return f"a checkpoint every {plan.save_every} steps"
    if key == "preview_every":
        return f"previews every {plan.preview_every} steps" if plan.preview_every else "previews off"
    if key == "cache_limit_gb":
        limit = plan.raw.get("cache_limit_gb")
        return "no memory cache cap" if limit is None else f"memory cache capped at {limit} GB"
    if key == "seed":
        return f"seed {plan.seed}"
    if key == "batch_size":
        return f"batch size {plan.batch_size}"
    return None


_SETTING_NAMES = {"cache_limit_gb": "memory cache cap", "low_ram": "low RAM", "max_resolution": "resolution",
                  "quantize": "quantization", "target_iterations": "epochs", "save_every": "checkpoint frequency",
                  "preview_every": "preview frequency"}


def _describe_raw(raw: dict, plan: TrainPlan) -> list[str]:
    words = []
    optimizer = raw.get("optimizer") or {}
    if optimizer.get("lr_schedule") == "cosine":
        warmup = optimizer.get("lr_warmup_steps")
        words.append("cosine learning-rate decay" + (f" after {warmup} warm-up steps" if warmup else ""))
    if not plan.preview_every:
        return words
    if "steps" in raw:
        words.append(f"{raw['steps']} sampling steps per preview")
    monitoring = raw.get("monitoring") or {}
    if monitoring.get("preview_width") and monitoring.get("preview_height"):
        words.append(f"previews {monitoring['preview_width']}x{monitoring['preview_height']} px")
    return words


def preset_note(presets: list[Preset], plan: TrainPlan, image_count: int | None = None) -> str:
    """What applying `presets` (in order) set in the form, in words, from the values the form now has: each
    preset's settings that a later one did not replace, and which ones it replaced."""
    parts = []
    later_keys: set[str] = set()
    described = []
    for preset in reversed(presets):
        settings = {k: v for k, v in preset.settings.items() if k != "raw"}
        keys = list(settings)
        if "target_iterations" in keys and "epochs" in keys:
            keys.remove("target_iterations")
        kept = [k for k in keys if k not in later_keys and not (k == "target_iterations" and "epochs" in later_keys)]
        replaced = [k for k in keys if k not in kept]
        words = [w for w in (_describe_setting(k, plan, image_count) for k in kept) if w]
        words += _describe_raw(preset.settings.get("raw") or {}, plan)
        described.append((preset, words, replaced))
        later_keys |= set(keys) | ({"epochs"} if "target_iterations" in keys else set())
    for preset, words, replaced in reversed(described):
        text = f"**{preset.label}**: " + (", ".join(words) if words else "nothing left of its own")
        if replaced:
            names = ", ".join(sorted({_SETTING_NAMES.get(k, k.replace("_", " ")) for k in replaced}))
            text += f" (its {names} replaced by the preset after it)"
        parts.append(text)
    return "Applied, in order (a later preset wins): " + " · ".join(parts) + "."


def deep_merge(base: dict, overlay: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# ---- the raw train.json -------------------------------------------------------------------

def model_key_of(config: dict) -> str:
    """'selftest' when model_path is a self-test model folder, else the klein base key."""
    path = config.get("model_path")
    if path and (Path(path) / selftest_model.MARKER).is_file():
        return "selftest"
    return "flux2-klein-base-4b"


def parse_json(text: str) -> dict:
    """The raw editor's text as a dict, or a ConfigError naming the line and column."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"The raw JSON has a syntax error at line {error.lineno}, column {error.colno}: {error.msg}.",
            "Fix it there (a missing comma or quote is the usual cause); the form keeps the last valid values.",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError("The raw JSON must be one object { ... }.", "Start from a preset and edit its values.")
    return data


def to_json(config: dict) -> str:
    return json.dumps(config, indent=2, ensure_ascii=False)


def iterations(config: dict, image_count: int) -> int:
    """Training iterations mflux will run: epochs x ceil(images / batch size)."""
    loop = config.get("training_loop") or {}
    try:
        epochs, batch = int(loop.get("num_epochs", 0)), max(1, int(loop.get("batch_size", 1)))
    except (TypeError, ValueError):
        return 0
    return max(0, epochs) * math.ceil(max(0, image_count) / batch)


# ---- the dataset, as the Train tab needs it (the checks themselves are core.dataset.preflight's) -------

def dataset_images(images_dir: Path) -> list[Path]:
    """The pictures mflux trains on: not its preview* images (those are for edit training only)."""
    return [p for p in list_images(images_dir) if not p.stem.startswith("preview")]


def dataset_readiness(workspace: Workspace, name: str, trigger: str | None = None, resolution: int | None = None) -> Readiness:
    """The dataset room's pre-flight check (core.dataset.preflight), folded into errors and warnings for the Train tab."""
    if not name:
        return Readiness(0, 0, errors=["No dataset is chosen. Pick one in the Dataset field (or create one in the Dataset tab)."])
    if not workspace.dataset_images_dir(name).is_dir():
        return Readiness(0, 0, errors=[f"There is no dataset named '{name}'. Create it in the Dataset tab."])

    result = preflight.check(workspace, name, trigger=trigger or "", resolution=resolution)
    captioned = sum(1 for row in result.rows if row.caption.strip())
    return Readiness(
        images=result.image_count,
        captioned=captioned,
        errors=_grouped(result.errors),
        warnings=_grouped(result.warnings),
    )


def _grouped(findings) -> list[str]:
    """One line per kind of finding (the first one's sentence), so forty uncaptioned images are one line here;
    the Dataset tab's pre-flight table lists them one by one."""
    by_code: dict[str, list] = {}
    for finding in findings:
        by_code.setdefault(finding.code, []).append(finding)
    return [group[0].message + (f" (and {len(group) - 1} more like it)" if len(group) > 1 else "") for group in by_code.values()]


def compose(
    workspace: Workspace,
    dataset: str,
    trigger: str = "",
    presets: list[str] | tuple[str, ...] = (),
    memory_gb: float | None = None,
    model: str | None = None,
) -> TrainPlan:
    """Defaults, then the machine's memory preset (unless one is named), then the named presets in order."""
    plan = TrainPlan(dataset=dataset, trigger=trigger, raw=default_config())
    images = len(dataset_images(workspace.dataset_images_dir(dataset))) if dataset else 0
    chosen = [get_preset(name, workspace) for name in presets]
    if model == "selftest" and not any(p.name == "selftest" for p in chosen):
        chosen.append(get_preset("selftest"))
    if not any(p.kind == "memory" for p in chosen) and not any(p.name == "selftest" for p in chosen):
        chosen.insert(0, memory_preset_for(memory_gb if memory_gb is not None else machine_memory_gb()))
    for preset in chosen:
        plan = apply_preset(plan, preset, image_count=images or None)
    if model:
        plan.model = model
    return plan
