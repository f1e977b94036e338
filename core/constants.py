"""Names and numbers the whole house shares: model keys and repositories, Runware's base AIRs, image suffixes, sizes.

One place, so that a repository id or an AIR is never spelt twice (huggingface_hub's constants.py is the model).
"""

from __future__ import annotations

# --- base models: the key a person sees and our records keep, and where mflux downloads the weights ---
KLEIN_BASE_4B = "flux2-klein-base-4b"  # the model LoRAs are trained on
KLEIN_4B = "flux2-klein-4b"  # the 4-step distilled model
SELFTEST = "selftest"  # the tiny random FLUX.2 klein built offline
KLEIN_BASE_4B_REPO = "black-forest-labs/FLUX.2-klein-base-4B"
KLEIN_4B_REPO = "black-forest-labs/FLUX.2-klein-4B"

# --- Runware's AIRs of the same models ---
BASE_AIR = "runware:400@5"  # FLUX.2 [klein] 4B Base: what our LoRAs are trained on
DISTILLED_AIR = "runware:400@4"  # FLUX.2 [klein] 4B (distilled, few steps)

# --- pictures ---
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")  # what mflux reads from a training folder
GIB = 1024**3
