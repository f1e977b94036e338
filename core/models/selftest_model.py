"""The self-test model: a tiny, random-weight FLUX.2 klein base that real mflux trains and generates with.

It checks the pipeline, not quality: its images are noise. It is built offline in a few seconds, in
the real Hugging Face layout of black-forest-labs/FLUX.2-klein-base-4B (transformer/, text_encoder/,
vae/, tokenizer/ with diffusers/HF key names), so mflux loads it through its normal weight mapping.

mflux 0.24.0 takes the transformer and text-encoder geometry only from the registry entry's
`transformer_overrides` / `text_encoder_overrides`, and hard-codes the VAE class, so a process that
uses this model first calls `use_selftest_geometry()`; `use_real_geometry()` undoes it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from core import storage
from core.settings import PROJECT_ROOT
from core.errors import AppError

MFLUX_MODEL = "flux2-klein-base-4b"
RECIPE_VERSION = 1
MARKER = "selftest-model.json"

TEXT_ENCODER_HIDDEN = 32
TINY_TEXT_ENCODER = dict(
    vocab_size=512,
    hidden_size=TEXT_ENCODER_HIDDEN,
    num_hidden_layers=28,  # mflux stacks text-encoder layers 9, 18 and 27
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=16,
    intermediate_size=64,
)
TINY_TRANSFORMER = dict(
    num_layers=1,  # double-stream blocks (the real 4B has 5)
    num_single_layers=2,  # single-stream blocks (the real 4B has 20)
    num_attention_heads=2,
    attention_head_dim=16,  # equals sum(axes_dims_rope)
    axes_dims_rope=(4, 4, 4, 4),
    joint_attention_dim=3 * TEXT_ENCODER_HIDDEN,
)
# The real VAE block structure with 32 channels per block (real: 128, 256, 512, 512); the full-size
# VAE takes ~27 s to decode one 64x64 image on a 2-core CPU.
TINY_VAE_CHANNELS = (32, 32, 32, 32)

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}"
    "{%- endif %}"
)

_saved_geometry: dict | None = None


def default_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "models" / "selftest-flux2-klein"


def is_active() -> bool:
    return _saved_geometry is not None


def use_selftest_geometry() -> None:
    """Shrink mflux's flux2-klein-base-4b registry entry and VAE to the self-test geometry (idempotent)."""
    global _saved_geometry
    if _saved_geometry is not None:
        return
    import mflux.models.flux2.flux2_initializer as initializer
    from mflux.models.common.config.model_config import AVAILABLE_MODELS

    config = AVAILABLE_MODELS[MFLUX_MODEL]
    _saved_geometry = {
        "transformer": dict(config.transformer_overrides),
        "text_encoder": dict(config.text_encoder_overrides),
        "vae_class": initializer.Flux2VAE,
    }
    # In place: ModelConfig.from_name() returns this very object.
    config.transformer_overrides.clear()
    config.transformer_overrides.update(TINY_TRANSFORMER)
    config.text_encoder_overrides.clear()
    config.text_encoder_overrides.update(TINY_TEXT_ENCODER)
    initializer.Flux2VAE = _tiny_vae_class(initializer.Flux2VAE)


def use_real_geometry() -> None:
    """Undo use_selftest_geometry() so the real klein 4B can be loaded in this process."""
    global _saved_geometry
    if _saved_geometry is None:
        return
    import mflux.models.flux2.flux2_initializer as initializer
    from mflux.models.common.config.model_config import AVAILABLE_MODELS

    config = AVAILABLE_MODELS[MFLUX_MODEL]
    config.transformer_overrides.clear()
    config.transformer_overrides.update(_saved_geometry["transformer"])
    config.text_encoder_overrides.clear()
    config.text_encoder_overrides.update(_saved_geometry["text_encoder"])
    initializer.Flux2VAE = _saved_geometry["vae_class"]
    _saved_geometry = None


def _tiny_vae_class(real_vae_class):
    from mflux.models.flux2.model.flux2_vae.encoder.encoder import Flux2Encoder

    class SelftestFlux2VAE(real_vae_class):
        def __init__(self, decoder_block_out_channels: tuple[int, ...] = TINY_VAE_CHANNELS):
            super().__init__(decoder_block_out_channels=decoder_block_out_channels)
            self.encoder = Flux2Encoder(block_out_channels=TINY_VAE_CHANNELS)

    return SelftestFlux2VAE


def is_built(model_dir: Path) -> bool:
    marker = storage.read_json(Path(model_dir) / MARKER, default={}) or {}
    return marker.get("recipe_version") == RECIPE_VERSION


def ensure(cache_dir: Path) -> Path:
    """The self-test model folder under `cache_dir`, built first if it is missing or outdated."""
    model_dir = default_dir(cache_dir)
    if not is_built(model_dir):
        build(model_dir)
    return model_dir


def build(out_dir: Path, seed: int = 0) -> Path:
    """Write the self-test model to `out_dir` (replacing an older self-test model there) and return it."""
    import mlx.core as mx

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise AppError(f"{out_dir} is not empty and is not a self-test model folder.", "Choose an empty or new folder.")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".selftest-build-", dir=out_dir.parent))
    was_active = is_active()
    try:
        use_selftest_geometry()
        tokens = write_random_weights(staging, seed)
        storage.write_json(staging / "model_index.json", {"_class_name": "Flux2KleinPipeline", "selftest": True})
        storage.write_json(
            staging / MARKER,
            {
                "recipe_version": RECIPE_VERSION,
                "seed": seed,
                "mflux_model": MFLUX_MODEL,
                "tokenizer_size": tokens,
                "note": "Random weights: checks the pipeline, not image quality.",
            },
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    finally:
        if not was_active:
            use_real_geometry()
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def write_random_weights(folder: Path, seed: int = 0) -> int:
    """Random bf16 weights for the geometry mflux's registry holds now (the self-test one after
    use_selftest_geometry(), the real klein 4B otherwise: bench/real_size.py), in the Hugging Face layout
    (transformer/, text_encoder/, vae/, tokenizer/), one part in memory at a time. Returns the tokenizer's size."""
    import mlx.core as mx
    from mflux.models.common.config.model_config import ModelConfig
    from mflux.models.flux2 import flux2_initializer
    from mflux.models.flux2.model.flux2_text_encoder.qwen3_text_encoder import Qwen3TextEncoder
    from mflux.models.flux2.model.flux2_transformer.transformer import Flux2Transformer
    from mflux.models.flux2.weights.flux2_weight_mapping import Flux2WeightMapping

    folder = Path(folder)
    config = ModelConfig.flux2_klein_base_4b()
    mx.random.seed(seed)
    tokens = _write_tokenizer(folder / "tokenizer")
    parts = {
        "transformer": (lambda: Flux2Transformer(**config.transformer_overrides), Flux2WeightMapping.get_transformer_mapping(), "diffusion_pytorch_model.safetensors"),
        "text_encoder": (lambda: Qwen3TextEncoder(**config.text_encoder_overrides), Flux2WeightMapping.get_text_encoder_mapping(), "model.safetensors"),
        "vae": (lambda: flux2_initializer.Flux2VAE(), Flux2WeightMapping.get_vae_mapping(), "diffusion_pytorch_model.safetensors"),
    }
    for name, (make, mapping, filename) in parts.items():
        weights = {key: value.astype(mx.bfloat16) for key, value in _hf_named_weights(make(), mapping).items()}
        mx.eval(weights)
        (folder / name).mkdir(parents=True, exist_ok=True)
        mx.save_safetensors(str(folder / name / filename), weights, metadata={"format": "pt"})
        del weights
        with contextlib.suppress(AttributeError):
            mx.clear_cache()
    return tokens


def _write_tokenizer(folder: Path) -> int:
    """A byte-level Qwen2 tokenizer (one token per byte) with a Qwen3-style chat template."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import Qwen2Tokenizer

    vocab = {symbol: index for index, symbol in enumerate(sorted(ByteLevel.alphabet()))}
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=[], unk_token=None, bos_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<think>", "</think>"]})
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = 512
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(folder))
    if is_active() and len(tokenizer) > TINY_TEXT_ENCODER["vocab_size"]:
        raise RuntimeError(f"self-test tokenizer has {len(tokenizer)} tokens, more than the text encoder's vocabulary")
    return len(tokenizer)


def _hf_named_weights(module, mapping) -> dict:
    """The module's parameters under their Hugging Face names, by inverting mflux's weight mapping."""
    from mflux.models.common.weights.mapping.weight_transforms import WeightTransforms
    from mlx.utils import tree_flatten

    compiled = []
    for target in mapping:
        pattern = re.escape(target.to_pattern)
        for placeholder in ("block", "layer", "i", "res"):
            pattern = pattern.replace(re.escape("{" + placeholder + "}"), f"(?P<{placeholder}>\\d+)")
        compiled.append((re.compile("^" + pattern + "$"), target))
    named = {}
    for path, array in tree_flatten(module.parameters()):
        for pattern, target in compiled:
            match = pattern.match(path)
            if not match:
                continue
            source = target.from_pattern[0]
            for key, value in match.groupdict().items():
                source = source.replace("{" + key + "}", value)
            if target.transform is WeightTransforms.transpose_conv2d_weight and array.ndim == 4:
                array = array.transpose(0, 3, 1, 2)  # MLX [O, kh, kw, I] back to torch [O, I, kh, kw]
            elif target.transform is not None and target.transform is not WeightTransforms.transpose_conv2d_weight:
                raise RuntimeError(f"no inverse known for weight transform {target.transform}")
            named[source] = array
            break
    return named


def subprocess_env(base_env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for running mflux's own console scripts (mflux-train, mflux-generate-flux2) on the
    self-test model: a sitecustomize on PYTHONPATH applies the geometry at interpreter start."""
    env = dict(os.environ if base_env is None else base_env)
    hook_dir = PROJECT_ROOT / "core" / "models" / "selftest_hook"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(hook_dir), str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env["STORY_LORA_SELFTEST_MODEL"] = "1"
    return env


def describe(model_dir: Path) -> dict:
    marker = storage.read_json(Path(model_dir) / MARKER, default={}) or {}
    return {"path": str(model_dir), "built": bool(marker), **marker}
