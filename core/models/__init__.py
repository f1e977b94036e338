"""The models room: the base models a person can pick, LoRA adapter files, which layers a LoRA trains, the self-test model.

- base: `BaseModel`, `BASE_MODELS`, `resolve(key)`, `prepare(model, cache_dir)`, `weights_in_cache(model)`
- adapters: reading, validating and exporting LoRA adapter files (safetensors), their sha256
- lora_targets: mflux's module paths and block ranges, by `Geometry` (the real 4B and the tiny self-test model)
- selftest_model: the tiny random FLUX.2 klein that real mflux trains and generates with, built offline
"""

__all__ = ["base", "adapters", "lora_targets", "selftest_model"]
