"""story-shorts-character-lora: the library behind the app and the CLI.

`core` knows nothing of the UI. Importing it is cheap: heavy libraries (mlx, mflux, torch,
transformers, diffusers) are imported inside the functions that need them.

The rooms, in the order the work flows (each may use the ones before it and the kernel, never one after it;
`.importlinter` at the project root enforces it):

    models -> runware -> captions -> dataset -> runs -> training -> generation -> checkpoints
           -> publishing -> playground -> selftest -> cli

The kernel modules here are used by every room: errors (one hierarchy, one error-to-sentence mapping), settings
(.env), constants, log, progress (typed events), storage (atomic writes), workspace, jobs (the heavy slot),
system (the machine: doctor, memory).
"""

import os as _os

# The app makes no outside request unless the person starts one: these must be set before
# gradio or huggingface_hub are imported anywhere in the process.
_os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
_os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
_os.environ.setdefault("DO_NOT_TRACK", "1")

__version__ = "0.1.0"
