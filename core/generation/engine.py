"""One warm mflux FLUX.2 klein model, on its own thread, shared by Local Generate and the comparison grid.

- The base model is loaded once (per model and quantization) and kept.
- Its weights are read into memory once, on the engine thread (`hold_weights`): mflux loads them lazily and
  runs them only inside a compiled function it builds per image, so without this every image re-read the
  7.75 GB transformer from disk (its first step 3.8 s instead of 0.19 s at real size on an H100).
- LoRAs are applied at run time (`bake_lora=False`) and swapped in memory: the LoRA wrappers are unwrapped
  back to the base layers and the next adapter is applied; a strength change of the same adapter only
  changes the wrappers' scale. mflux 0.24.0 has no public API for either. The scale is an array, not a
  Python number: MLX folds a number (or a one-element array) into the compiled kernels, so each new strength
  compiled them all again (about 12 s on CUDA); an array the size of the layer's output is read at run time.
- Prompt encodings are cached per prompt (a LoRA only touches the transformer, so they stay valid).
- The VAE decode mode is chosen by backend and free memory (see `decode_mode`).

All mflux calls run on the engine's single thread (MLX streams are per thread).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from core import system
from core.models import adapters, base as models, lora_targets
from core.errors import ModelError
from core.progress import Cancellation, Cancelled

DECODE_MODES = ("low_memory", "full_precision", "legacy")
GIB = 1 << 30


@dataclass(frozen=True)
class RenderSpec:
    """Everything that decides one image."""

    model_key: str
    prompt: str
    seed: int
    width: int
    height: int
    steps: int
    guidance: float
    loras: tuple[tuple[str, float], ...] = ()
    quantize: int | None = None


@dataclass
class EngineStats:
    model_loads: int = 0
    weight_reads: int = 0  # times a model's weights were read into memory (once per model load)
    text_encoder_held: bool = False  # whether the text encoder's weights stay in memory too
    lora_loads: int = 0
    scale_changes: int = 0
    prompt_encodings: int = 0
    images: int = 0
    last_image_seconds: float = 0.0  # the last image's denoising and decoding (model and LoRA loading excluded)


def mlx_backend() -> str:
    import mlx.core as mx

    try:
        if mx.metal.is_available():
            return "metal"
    except AttributeError:
        pass
    try:
        if mx.cuda.is_available():
            return "cuda"
    except AttributeError:
        pass
    return "cpu"


def decode_mode(override: str | None, backend: str, available_bytes: int | None, width: int = 1024, height: int = 1024) -> str:
    """mflux's VAE decode mode. On CUDA/CPU the one-pass decode is ~80x faster than the strips (7.7 s vs
    0.09 s at 1024x1024 on an H100); on a Mac the strips use far less memory (1.6 GB vs 7.3 GB peak at
    1024x1024) for a little time, so they are used unless plenty of memory is free."""
    if override:
        value = override.strip().lower().replace("-", "_")
        if value not in DECODE_MODES:
            raise ModelError(f"VAE_DECODE_MODE '{override}' is not one of {', '.join(DECODE_MODES)}.", "Fix it in .env or remove it.")
        return value
    if backend != "metal":
        return "full_precision"
    needed = 7.3 * GIB * (width * height) / (1024 * 1024) + 4 * GIB
    return "full_precision" if available_bytes is not None and available_bytes > needed else "low_memory"


class _StepHook:
    """mflux in-loop callback: reports each denoising step and stops when asked."""

    def __init__(self) -> None:
        self.on_step: Callable[[int, int], None] | None = None
        self.cancel: Cancellation | None = None

    def call_in_loop(self, t, seed, prompt, latents, config, time_steps) -> None:
        if self.on_step is not None:
            self.on_step(int(t) + 1, int(config.num_inference_steps))
        if self.cancel is not None and self.cancel.requested:
            raise Cancelled()


@dataclass
class _Loaded:
    key: tuple[str, int | None]
    flux: object
    hook: _StepHook
    prompt_cache: dict = field(default_factory=dict)
    loras: tuple[tuple[str, float], ...] = ()


class Engine:
    def __init__(self, cache_dir: Path | None = None) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mflux-engine")
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self.cache_dir = cache_dir
        self.decode_override: str | None = None
        self.stats = EngineStats()

    # --- public, callable from any thread ---
    @property
    def loaded_model(self) -> str | None:
        return self._loaded.key[0] if self._loaded else None

    def render(self, spec: RenderSpec, on_step: Callable[[int, int], None] | None = None, cancel: Cancellation | None = None):
        """One image (PIL) for `spec`; raises Cancelled when `cancel` was requested."""
        return self.submit(spec, on_step, cancel).result()

    def submit(self, spec: RenderSpec, on_step: Callable[[int, int], None] | None = None, cancel: Cancellation | None = None):
        """render() without waiting: a Future of the image."""
        return self._executor.submit(self._render, spec, on_step, cancel)

    def unload(self) -> bool:
        """Free the model (memory back to training). Returns whether one was loaded."""
        return self._executor.submit(self._unload).result()

    # --- on the engine thread ---
    def _unload(self) -> bool:
        was = self._loaded is not None
        self._loaded = None
        if was:
            import gc

            import mlx.core as mx

            gc.collect()
            with contextlib.suppress(AttributeError):
                mx.clear_cache()
        return was

    def _ensure_model(self, spec: RenderSpec) -> _Loaded:
        key = (spec.model_key, spec.quantize)
        if self._loaded is not None and self._loaded.key == key:
            return self._loaded
        self._unload()
        if self.cache_dir is None:
            raise ModelError("The generation engine has no cache folder.", "Start it through core.generation.")
        base = models.resolve(spec.model_key)
        model_path = models.prepare(base, self.cache_dir)
        from mflux.models.common.config.model_config import ModelConfig
        from mflux.models.flux2.variants import Flux2Klein

        try:
            flux = Flux2Klein(model_config=ModelConfig.from_name(base.mflux_name), model_path=str(model_path) if model_path else None,
                              quantize=spec.quantize, bake_lora=False)
        except Exception as error:  # noqa: BLE001 - a download or disk failure becomes one sentence
            if base.hf_repo and not models.weights_in_cache(base):
                raise ModelError(f"{base.label} could not be downloaded ({type(error).__name__}: {error}).",
                                 f"Connect to the internet and try again; the first use downloads {base.hf_repo} ({base.note})") from error
            raise ModelError(f"{base.label} could not be loaded ({error}).", "See outputs/logs/app.log; run `python -m core doctor`.") from error
        self.stats.text_encoder_held = hold_weights(flux, system.memory().available)
        self.stats.weight_reads += 1
        hook = _StepHook()
        flux.callbacks.register(hook)
        loaded = _Loaded(key=key, flux=flux, hook=hook)
        original = flux._encode_prompt_pair

        def cached_encode(*, prompt, negative_prompt, guidance):
            cache_key = (prompt, negative_prompt if guidance is not None and guidance > 1.0 else None)
            if cache_key not in loaded.prompt_cache:
                import mlx.core as mx

                encoded = original(prompt=prompt, negative_prompt=negative_prompt, guidance=guidance)
                mx.eval([e for e in encoded if e is not None])
                loaded.prompt_cache[cache_key] = encoded
                self.stats.prompt_encodings += 1
            return loaded.prompt_cache[cache_key]

        flux._encode_prompt_pair = cached_encode
        self._loaded = loaded
        self.stats.model_loads += 1
        return loaded

    def _apply_loras(self, loaded: _Loaded, spec: RenderSpec) -> None:
        wanted = tuple((str(p), float(s)) for p, s in spec.loras)
        if wanted == loaded.loras:
            return
        paths = [p for p, _ in wanted]
        scales = [s for _, s in wanted]
        flux = loaded.flux
        if len(paths) == 1 and [p for p, _ in loaded.loras] == paths:
            _set_scale(flux.transformer, scales[0], activation_dtype(flux))
            loaded.loras = wanted
            flux.lora_scales = scales
            self.stats.scale_changes += 1
            return
        geometry = lora_targets.geometry_for(spec.model_key)
        for path in paths:
            adapters.validate(Path(path), geometry)
        from mflux.models.common.lora.mapping.lora_loader import LoRALoader
        from mflux.models.flux2.weights.flux2_lora_mapping import Flux2LoRAMapping

        strip_loras(flux.transformer)
        loaded.loras = ()
        flux.lora_paths, flux.lora_scales = [], []
        if paths:
            flux.lora_paths, flux.lora_scales = LoRALoader.load_and_apply_lora(
                lora_mapping=Flux2LoRAMapping.get_mapping(), transformer=flux.transformer,
                lora_paths=paths, lora_scales=scales, bake_lora=False)
            if len(paths) == 1:  # the same run-time scale arrays from the first image on (several: mflux's own)
                _set_scale(flux.transformer, scales[0], activation_dtype(flux))
            self.stats.lora_loads += 1
        loaded.loras = wanted

    def _render(self, spec: RenderSpec, on_step, cancel):
        with contextlib.redirect_stdout(sys.stderr):  # mflux prints; keep stdout clean for --json
            loaded = self._ensure_model(spec)
            self._apply_loras(loaded, spec)
            flux = loaded.flux
            flux.vae.decode_mode = decode_mode(self.decode_override, mlx_backend(), system.memory().available, spec.width, spec.height)
            loaded.hook.on_step, loaded.hook.cancel = on_step, cancel
            try:
                if cancel is not None:
                    cancel.check()
                started = time.perf_counter()
                result = flux.generate_image(seed=int(spec.seed), prompt=spec.prompt, num_inference_steps=int(spec.steps),
                                             height=int(spec.height), width=int(spec.width), guidance=float(spec.guidance))
            finally:
                loaded.hook.on_step, loaded.hook.cancel = None, None
        self.stats.images += 1
        self.stats.last_image_seconds = round(time.perf_counter() - started, 3)
        return result.image


def hold_weights(flux, available_bytes: int | None) -> bool:
    """Read the model's weights into memory now, so that images stop re-reading them from disk: the transformer
    and the VAE always; the text encoder only when memory is plentiful (prompt encodings are cached, so it runs
    once per new prompt and may as well stay on disk otherwise). Returns whether the text encoder is held."""
    import mlx.core as mx

    from mlx.utils import tree_flatten

    mx.eval(flux.transformer.parameters(), flux.vae.parameters())
    held = holds_text_encoder(sum(v.nbytes for _, v in tree_flatten(flux.text_encoder.parameters())), available_bytes)
    if held:
        mx.eval(flux.text_encoder.parameters())
    return held


def holds_text_encoder(encoder_bytes: int, available_bytes: int | None) -> bool:
    """Keep the text encoder in memory only when twice its size and 8 GiB more are free (FLUX.2 klein 4B's
    Qwen3-4B is about 8 GB in bf16; on a 48 GB Mac with the transformer held that is usually true)."""
    return available_bytes is not None and available_bytes > 2 * encoder_bytes + 8 * GIB


def activation_dtype(flux):
    """The dtype the transformer computes in (what a LoRA's output is cast to)."""
    from mflux.models.common.config.model_config import ModelConfig

    precision = getattr(flux, "compute_precision", None)
    return precision.dtype_or(ModelConfig.precision) if precision is not None else ModelConfig.precision


def _lora_wrapper_types():
    from mflux.models.common.lora.layer.fused_linear_lora_layer import FusedLoRALinear
    from mflux.models.common.lora.layer.linear_lokr_layer import LoKrLinear
    from mflux.models.common.lora.layer.linear_lora_layer import LoRALinear

    return FusedLoRALinear, LoRALinear, LoKrLinear


def _walk(obj, visit) -> None:
    """Call visit(container, key, child) for every child module below obj (nn.Module, list, dict)."""
    from mlx import nn

    if isinstance(obj, nn.Module):
        items = list(obj.items())
    elif isinstance(obj, list):
        items = list(enumerate(obj))
    elif isinstance(obj, dict):
        items = list(obj.items())
    else:
        return
    for key, child in items:
        if visit(obj, key, child) is not True:
            _walk(child, visit)


def strip_loras(transformer) -> int:
    """Replace every run-time LoRA wrapper by the base layer it wraps; returns how many."""
    fused, single, lokr = _lora_wrapper_types()
    removed = 0

    def visit(container, key, child):
        nonlocal removed
        base = child.base_linear if isinstance(child, fused) else child.linear if isinstance(child, (single, lokr)) else None
        if base is None:
            return False
        container[key] = base
        removed += 1
        return True

    _walk(transformer, visit)
    return removed


def scale_array(scale: float, width: int, dtype):
    """A LoRA strength as MLX reads it at run time: one value per output feature. A Python number or a
    one-element array would be folded into the compiled kernels as a constant (a recompile per strength)."""
    import mlx.core as mx

    return mx.array([float(scale)] * width, dtype=dtype)  # a real buffer: a broadcast scalar could be folded too


def _scale_for(layer, scale: float, dtype, dora: bool):
    """The scale a wrapper gets: the run-time array for a plain LoRA (ours); a number for LoKr and DoRA, whose
    weight-space arithmetic an output-wide array would not broadcast over (such adapters recompile per strength)."""
    _, single, _ = _lora_wrapper_types()
    if isinstance(layer, single) and not dora:
        return scale_array(scale, int(layer.lora_B.shape[-1]), dtype)
    return float(scale)


def _set_scale(transformer, scale: float, dtype) -> int:
    fused, single, lokr = _lora_wrapper_types()
    changed = 0

    def visit(container, key, child):
        nonlocal changed
        if isinstance(child, fused):
            dora = any(isinstance(lora, lokr) and lora.dora_scale is not None for lora in child.loras)
            for lora in child.loras:
                lora.scale = _scale_for(lora, scale, dtype, dora)
            changed += 1
            return True
        if isinstance(child, (single, lokr)):
            child.scale = _scale_for(child, scale, dtype, False)
            changed += 1
            return True
        return False

    _walk(transformer, visit)
    return changed
