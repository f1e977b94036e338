"""Side-by-side differences between two runs' configs (what changed between a run and its re-run), and between the
training sets they learned from (their compiled sets' manifests, `compiled.json`, or for older runs the dataset
fingerprint in run.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core import storage
from core.runs.paths import run_paths
from core.workspace import Workspace

MISSING = "(not set)"
IGNORED = ("checkpoint.output_path", "data")  # differ for every run by design (each trains on its own compiled set)


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


def training_set(paths) -> dict:
    """What a run learned from, as comparable values: the dataset's fingerprint, the levers and the samples."""
    manifest = storage.read_json(paths.manifest_json, default=None)
    record = paths.read_record()
    if not isinstance(manifest, dict):
        fingerprint = record.dataset_fingerprint or {}
        return {"(set) dataset fingerprint": fingerprint.get("sha256", MISSING)}
    fingerprint = manifest.get("fingerprint") or {}
    samples = manifest.get("samples") or []
    return {
        "(set) dataset fingerprint": fingerprint.get("sha256", MISSING),
        "(set) pictures": fingerprint.get("count", MISSING),
        "(set) repeats": ", ".join(f"{k} x{v}" for k, v in sorted((manifest.get("repeats") or {}).items())) or "all 1",
        "(set) resolutions": ", ".join(str(r) for r in manifest.get("resolutions") or []) or MISSING,
        "(set) trigger-only share": manifest.get("trigger_only", 0),
        "(set) samples": len(samples),
        "_samples": [(s.get("source"), s.get("resolution"), s.get("caption"), bool(s.get("trigger_only"))) for s in samples],
    }


def _sample_differences(a: list, b: list) -> list[Difference]:
    """Samples one run trained on and the other did not (source picture, resolution, caption)."""
    from collections import Counter

    only_a, only_b = Counter(map(tuple, a)) - Counter(map(tuple, b)), Counter(map(tuple, b)) - Counter(map(tuple, a))
    if not only_a and not only_b:
        return []

    def words(counter) -> str:
        shown = [f"{source} at {res} px{' (trigger only)' if trig else ''}: \"{caption[:60]}\"" + (f" x{n}" if n > 1 else "")
                 for (source, res, caption, trig), n in sorted(counter.items(), key=str)[:5]]
        more = sum(counter.values()) - sum(n for _, n in sorted(counter.items(), key=str)[:5])
        return "; ".join(shown) + (f"; and {more} more" if more else "") if shown else "(none)"

    return [Difference("(set) samples only in one run", words(only_a), words(only_b))]


def diff_runs(workspace: Workspace, run_a: str, run_b: str) -> list[Difference]:
    configs, sets = [], []
    for run_id in (run_a, run_b):
        paths = run_paths(workspace, run_id, must_exist=True)
        config = storage.read_json(paths.train_json, default={}) or {}
        record = paths.read_record()
        config = {**config, "(dataset)": record.dataset, "(model)": record.model, "(trigger)": record.trigger}
        configs.append(config)
        sets.append(training_set(paths))
    rows = diff_configs(*configs)
    samples_a, samples_b = sets[0].pop("_samples", None), sets[1].pop("_samples", None)
    for key in sorted(set(sets[0]) | set(sets[1])):
        left, right = sets[0].get(key, MISSING), sets[1].get(key, MISSING)
        if left != right:
            rows.append(Difference(key, left, right))
    if samples_a is not None and samples_b is not None:
        rows += _sample_differences(samples_a, samples_b)
    return rows
