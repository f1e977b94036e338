"""A run ready to publish (record, train.json, adapter, sample images) and settings pointing at a fake Hub."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PIL import PngImagePlugin

from core.runs.paths import RunPaths, run_paths
from core.runs.record import RunRecord
from core.settings import register_secret
from tests.support.adapters import write_adapter
from tests.support.images import character_image

HF_TOKEN = "hf_FakeWriteToken0123456789abcdefXYZ"
RUNWARE_KEY = "rw-fake-key-NeverUpload-0123456789"


def hub_settings(settings, hub, token: str = HF_TOKEN, runware_key: str | None = RUNWARE_KEY, **changes):
    """`settings` with HF_TOKEN/RUNWARE_API_KEY set (and registered as secrets) and the Hub at `hub.url`."""
    register_secret("HF_TOKEN", token)
    register_secret("RUNWARE_API_KEY", runware_key)
    return dataclasses.replace(settings, hf_token=token, hf_endpoint=hub.url, runware_api_key=runware_key, **changes)


def make_run(workspace, run_id: str = "20261127-mira", *, trigger: str = "mira", samples: int = 2,
             seed: int = 0) -> tuple[RunPaths, Path, list[Path]]:
    """A run folder with a record, a train.json full of local paths, an adapter and samples carrying metadata."""
    paths = run_paths(workspace, run_id)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.write_record(RunRecord(dataset="mira", trigger=trigger, status="completed"))
    home = str(Path.home())
    paths.train_json.write_text(
        '{"model": "flux2-klein-base-4b", "seed": 42, "steps": 4, '
        f'"data_path": "{workspace.root}/datasets/mira/images", '
        '"training_loop": {"num_epochs": 2, "batch_size": 1}, '
        '"lora_layers": {"rank": 4}, '
        f'"checkpoint": {{"output_path": "{home}/secret-place/out", "save_frequency": 2}}, '
        f'"note": "{RUNWARE_KEY}"}}', encoding="utf-8")
    adapter = paths.root / "export" / "pytorch_lora_weights.safetensors"
    write_adapter(adapter, seed=seed, trigger=trigger)
    images = []
    for index in range(samples):
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", f"{trigger}, pose {index}; made in {home}/private; key {RUNWARE_KEY}")
        image_path = paths.root / "grid" / f"sample_{index}.png"
        image_path.parent.mkdir(parents=True, exist_ok=True)
        character_image((48, 48), hue=index, seed=seed + index).save(image_path, pnginfo=info)
        (image_path.with_suffix(".json")).write_text(f'{{"prompt": "{trigger}, pose {index}"}}', encoding="utf-8")
        images.append(image_path)
    return paths, adapter, images
