"""The generation room: one warm FLUX.2 klein on its own thread, and local images saved with their settings.

- engine: `Engine`, `RenderSpec` (LoRA swap, strength change, prompt cache)
- local: `generate(...)` through the shared engine; history and reuse
"""

__all__ = ["engine", "local"]
