"""The foundation's promise: real mflux trains and generates on the self-test model, offline,
on the Pillow we pin (which mflux 0.24.0's metadata says it does not accept)."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.models import base as models
from core.models import selftest_model
from core.errors import ModelError
from tests.support.images import write_mflux_dataset

ROOT = Path(__file__).resolve().parents[2]


def tiny_train_config(data: Path, output: Path, model_dir: Path, steps: int = 4) -> dict:
    blocks = {"start": 0, "end": 1}
    targets = [
        {"module_path": f"transformer_blocks.{{block}}.attn.{name}", "blocks": blocks, "rank": 4}
        for name in ("to_q", "to_k", "to_v", "to_out")
    ] + [{"module_path": "single_transformer_blocks.{block}.attn.to_out", "blocks": {"start": 0, "end": 2}, "rank": 4}]
    return {
        "model": "flux2-klein-base-4b",
        "model_path": str(model_dir),
        "data": str(data),
        "seed": 7,
        "steps": steps,
        "guidance": 1.0,
        "max_resolution": 64,
        "training_loop": {"num_epochs": 1, "batch_size": 1},
        "optimizer": {"name": "AdamW", "learning_rate": 1e-3},
        "checkpoint": {"output_path": str(output), "save_frequency": 2},
        "lora_layers": {"targets": targets},
    }


def test_pins_resolve_the_pillow_conflict_deliberately():
    pillow = importlib.metadata.version("pillow")
    gradio_requires = importlib.metadata.requires("gradio")
    mflux_requires = importlib.metadata.requires("mflux")
    assert importlib.metadata.version("mflux") == "0.24.0"
    assert any(r.replace(" ", "").startswith("pillow") and "<13" in r for r in gradio_requires)
    assert any(r.replace(" ", "").startswith("pillow>=13") for r in mflux_requires)
    assert int(pillow.split(".")[0]) < 13, "gradio 6.31 needs Pillow < 13"
    pinned = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("pillow==")]
    assert pinned == [f"pillow=={pillow}"]


def test_the_platform_gets_its_mlx_backend_and_no_cuda_wheels():
    import mlx.core as mx

    installed = {d.metadata["Name"].lower() for d in importlib.metadata.distributions()}
    assert importlib.metadata.version("torch").startswith("2.13.0")
    if sys.platform == "darwin":  # Apple Silicon: MLX on Metal
        assert mx.metal.is_available()
        assert "mlx-cpu" not in installed
    else:  # Linux without an NVIDIA GPU: MLX's CPU backend, no CUDA downloads
        assert "mlx-cpu" in installed
        assert not any(name.startswith("nvidia-") or name.startswith("mlx-cuda") for name in installed)
        assert "cpu" in str(mx.default_device()).lower()


def test_selftest_model_has_the_hub_layout(selftest_model_dir):
    for part in ("transformer/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors",
                 "vae/diffusion_pytorch_model.safetensors", "tokenizer/tokenizer.json"):
        assert (selftest_model_dir / part).is_file(), part
    assert selftest_model.is_built(selftest_model_dir)
    size = sum(p.stat().st_size for p in selftest_model_dir.rglob("*") if p.is_file())
    assert size < 5_000_000


def test_geometry_switch_is_reversible():
    from mflux.models.common.config.model_config import AVAILABLE_MODELS

    was_selftest = selftest_model.is_active()  # earlier tests in this process may have switched already
    try:
        selftest_model.use_real_geometry()
        real = dict(AVAILABLE_MODELS["flux2-klein-base-4b"].transformer_overrides)
        assert real["num_layers"] == 5 and real["num_single_layers"] == 20
        selftest_model.use_selftest_geometry()
        assert AVAILABLE_MODELS["flux2-klein-base-4b"].transformer_overrides["num_layers"] == 1
        selftest_model.use_real_geometry()
        assert AVAILABLE_MODELS["flux2-klein-base-4b"].transformer_overrides == real
    finally:
        if was_selftest:
            selftest_model.use_selftest_geometry()


def test_unknown_and_untrainable_models_are_explained():
    with pytest.raises(ModelError, match="Did you mean 'flux2-klein-base-4b'"):
        models.resolve("flux2-klein-base4b")
    with pytest.raises(ModelError, match="distilled"):
        models.resolve("flux2-klein-4b", for_training=True)
    assert models.resolve("selftest").is_selftest


@pytest.mark.slow
def test_real_mflux_trains_and_generates_on_the_selftest_model(tmp_path, cache_dir):
    from mflux.models.common.training.runner import TrainingRunner

    model_dir = models.prepare(models.SELFTEST, cache_dir)
    data = write_mflux_dataset(tmp_path / "data", count=4)
    config_path = tmp_path / "train.json"
    config_path.write_text(json.dumps(tiny_train_config(data, tmp_path / "out", model_dir)))
    try:
        TrainingRunner.train(config_path=str(config_path), resume_path=None)
        generate_with_and_without_lora(tmp_path, model_dir)
    finally:
        selftest_model.use_real_geometry()


def generate_with_and_without_lora(tmp_path: Path, model_dir: Path) -> None:
    zips = sorted((tmp_path / "out" / "checkpoints").glob("*_checkpoint.zip"))
    assert [z.name for z in zips] == ["0000002_checkpoint.zip", "0000004_checkpoint.zip"]
    with zipfile.ZipFile(zips[-1]) as archive:
        assert "0000004_adapter.safetensors" in archive.namelist()
        archive.extract("0000004_adapter.safetensors", tmp_path)

    from mflux.models.common.config.model_config import ModelConfig
    from mflux.models.flux2.variants import Flux2Klein

    base = Flux2Klein(model_config=ModelConfig.flux2_klein_base_4b(), model_path=str(model_dir))
    with_lora = Flux2Klein(
        model_config=ModelConfig.flux2_klein_base_4b(), model_path=str(model_dir),
        lora_paths=[str(tmp_path / "0000004_adapter.safetensors")], lora_scales=[8.0],
    )
    kwargs = dict(seed=3, prompt="mira, a character standing", num_inference_steps=2, height=64, width=64, guidance=4.0)
    plain = np.asarray(base.generate_image(**kwargs).image)
    lora = np.asarray(with_lora.generate_image(**kwargs).image)
    assert plain.shape == (64, 64, 3)
    assert plain.std() > 0
    assert np.abs(plain.astype(int) - lora.astype(int)).max() > 0, "the trained LoRA changed nothing"


def test_mflux_console_scripts_see_the_selftest_geometry():
    code = (
        "from mflux.models.common.config.model_config import AVAILABLE_MODELS;"
        "import mflux.models.flux2.flux2_initializer as i;"
        "print(AVAILABLE_MODELS['flux2-klein-base-4b'].transformer_overrides['num_layers'], i.Flux2VAE.__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], env=selftest_model.subprocess_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "SelftestFlux2VAE"]
