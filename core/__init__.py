"""story-shorts-character-lora: the library behind the app and the CLI.

`core` knows nothing of the UI. Importing it is cheap: heavy libraries (mlx, mflux, torch,
transformers) are imported inside the functions that need them.
"""

import os as _os

# The app makes no outside request unless the person starts one: these must be set before
# gradio or huggingface_hub are imported anywhere in the process.
_os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
_os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
_os.environ.setdefault("DO_NOT_TRACK", "1")

__version__ = "0.1.0"
