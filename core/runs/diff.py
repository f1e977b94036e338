"""Side-by-side differences between two runs' configs (what changed between a run and its re-run)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core import storage
from core.runs.paths import run_paths
from core.workspace import Workspace

MISSING = "(not set)"
IGNORED = ("checkpoint.output_path",)  # differs for every run by design


@dataclass
class Difference:
    key: str
    a: object
    b: object

    def to_dict(self) -> dict:
        return asdict(self)


def flatten(config: object, prefix: str = "") -> dict[str, object]:
    """Dotted keys to leaf values; LoRA targets are summarised per module path."""
    out: dict[str, object] = {}
    if isinstance(config, dict):
        for key, value in config.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if name == "lora_layers" and isinstance(value, dict) and isinstance(value.get("targets"), list):
                for target in value["targets"]:
                    if isinstance(target, dict):
                        blocks = target.get("blocks") or {}
                        out[f"lora.{target.get('module_path')}"] = f"rank {target.get('rank')}, blocks {blocks.get('start')}-{blocks.get('end')}"
                continue
            out.update(flatten(value, name))
    else:
        out[prefix] = config
    return out


def diff_configs(a: dict, b: dict) -> list[Difference]:
    flat_a, flat_b = flatten(a), flatten(b)
    rows = []
    for key in sorted(set(flat_a) | set(flat_b)):
        if key in IGNORED:
            continue
        left, right = flat_a.get(key, MISSING), flat_b.get(key, MISSING)
        if left != right:
            rows.append(Difference(key, left, right))
    return rows


def diff_runs(workspace: Workspace, run_a: str, run_b: str) -> list[Difference]:
    configs = []
    for run_id in (run_a, run_b):
        paths = run_paths(workspace, run_id, must_exist=True)
        config = storage.read_json(paths.train_json, default={}) or {}
        record = paths.read_record()
        config = {**config, "(dataset)": record.dataset, "(model)": record.model, "(trigger)": record.trigger}
        configs.append(config)
    return diff_configs(*configs)
