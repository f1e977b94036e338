"""The exported adapter of a real self-test run loads everywhere: diffusers/PEFT and mflux."""

import numpy as np
import pytest

from core.models import adapters, lora_targets
from core.checkpoints import store as checkpoints
from core.generation.engine import Engine, RenderSpec

pytestmark = pytest.mark.slow  # a trained run, and mflux renders


@pytest.fixture()
def exported(run_copy):
    return checkpoints.export_adapter(run_copy, 3)


def test_exported_adapter_loads_into_diffusers_flux2_with_no_missing_or_unexpected_keys(exported):
    import torch
    from diffusers import Flux2Transformer2DModel
    from peft.utils import get_peft_model_state_dict

    geometry = lora_targets.SELFTEST
    torch.manual_seed(0)
    model = Flux2Transformer2DModel(**geometry.diffusers_config()).eval()
    tokens, text = 16, 8
    inputs = dict(
        hidden_states=torch.randn(1, tokens, 128), encoder_hidden_states=torch.randn(1, text, geometry.joint_attention_dim),
        timestep=torch.tensor([0.5]), img_ids=torch.randint(0, 4, (1, tokens, 4)).float(), txt_ids=torch.zeros(1, text, 4),
    )
    with torch.no_grad():
        before = model(**inputs).sample
    tensors, _ = adapters.read_tensors(exported.path)
    state_dict = {k: torch.from_numpy(v.copy()) for k, v in tensors.items()}
    model.load_lora_adapter(state_dict, prefix="transformer", adapter_name="mira")
    loaded = get_peft_model_state_dict(model, adapter_name="mira")
    expected = {k.removeprefix("transformer.") for k in tensors}
    assert set(loaded) - expected == set(), "unexpected LoRA keys in the model"
    assert expected - set(loaded) == set(), "LoRA keys of the file not in the model"
    assert len(expected) == 32
    for key, value in loaded.items():
        assert torch.equal(value, state_dict["transformer." + key]), key
    with torch.no_grad():
        after = model(**inputs).sample
    assert (after - before).abs().max().item() > 1e-4


def test_exported_adapter_gives_mflux_the_same_images_as_mflux_own_file(exported, run_copy, selftest_model_dir, cache_dir, tmp_path):
    from safetensors.numpy import save_file

    step, zip_path = checkpoints.checkpoint_zip(run_copy, 3)
    tensors, metadata = checkpoints.read_adapter_tensors(zip_path, step)
    original = tmp_path / "mflux_original.safetensors"
    save_file(tensors, str(original), metadata=metadata)
    engine = Engine(cache_dir)
    spec = RenderSpec(model_key="selftest", prompt="mira, portrait", seed=3, width=64, height=64, steps=2, guidance=4.0)
    try:
        base = np.asarray(engine.render(spec))
        from_original = np.asarray(engine.render(RenderSpec(**{**spec.__dict__, "loras": ((str(original), 1.0),)})))
        from_export = np.asarray(engine.render(RenderSpec(**{**spec.__dict__, "loras": ((str(exported.path), 1.0),)})))
        strong_by_scale = np.asarray(engine.render(RenderSpec(**{**spec.__dict__, "loras": ((str(exported.path), 3.0),)})))
        assert engine.stats.scale_changes == 1 and engine.stats.lora_loads == 2
        unloaded = np.asarray(engine.render(spec))
        strong_fresh = np.asarray(engine.render(RenderSpec(**{**spec.__dict__, "loras": ((str(exported.path), 3.0),)})))
        assert engine.stats.model_loads == 1 and engine.stats.lora_loads == 3
        assert engine.stats.prompt_encodings == 1  # one prompt: encoded once, reused across adapters and strengths
    finally:
        engine.unload()
    assert np.array_equal(from_original, from_export)
    assert np.abs(from_export.astype(int) - base.astype(int)).max() > 0
    assert np.array_equal(unloaded, base)  # swapping the LoRA out restores the base model exactly
    assert np.array_equal(strong_by_scale, strong_fresh)  # an in-memory strength change == loading at that strength
    assert not np.array_equal(strong_by_scale, from_export)


def test_a_foreign_lora_is_refused_by_the_engine_not_silently_ignored(tmp_path, cache_dir, selftest_model_dir):
    from safetensors.numpy import save_file

    from core.generation.engine import Engine

    foreign = tmp_path / "sdxl.safetensors"
    save_file({"lora_unet_mid_block_attentions_0_proj_in.lora_up.weight": np.zeros((4, 4), np.float32)}, str(foreign))
    engine = Engine(cache_dir)
    spec = RenderSpec(model_key="selftest", prompt="x", seed=1, width=64, height=64, steps=1, guidance=1.0, loras=((str(foreign), 1.0),))
    try:
        with pytest.raises(adapters.AdapterError, match="0 of 1 keys match FLUX.2 klein"):
            engine.render(spec)
    finally:
        engine.unload()
