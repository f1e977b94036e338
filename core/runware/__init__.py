"""Runware, the cloud side: registering a LoRA and generating with it, over the official runware-sdk.

- `session`: the SDK on a private event loop, every call bounded; `translate` turns an SDK failure into a
  core.errors.RunwareError subclass (the sentence a person reads lives there).
- `air`: the base models' AIRs, `check_air`, `LoraRef`.
- `registry`: the architecture klein LoRAs are registered with (`resolve_architecture`), `register` /
  `register_stages` (modelUpload, followed until `ready`).
- `cloud`: `generate` / `generate_many` (imageInference with a LoRA, images saved with their settings).

Importing this package does not import runware-sdk; the first call does.
"""

from core.runware.air import BASE_AIR, DISTILLED_AIR, LoraRef, check_air
from core.runware.cloud import CloudImage, CloudRequest, generate, generate_many, total_cost
from core.runware.registry import Architecture, Registration, register, register_stages, resolve_architecture
from core.runware.session import translate

__all__ = ["BASE_AIR", "DISTILLED_AIR", "LoraRef", "check_air", "CloudImage", "CloudRequest", "generate",
           "generate_many", "total_cost", "Architecture", "Registration", "register", "register_stages",
           "resolve_architecture", "translate"]
