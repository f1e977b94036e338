"""Real LoRA adapter files with the self-test model's geometry, for tests that need one before a run is trained.

The keys follow diffusers/PEFT naming (`transformer.<module>.lora_A.weight` / `lora_B.weight`), the shapes the
tiny FLUX.2 klein of core.models.selftest_model (inner dim = heads x head dim = 32), and the file is a real
safetensors file that `safetensors` and diffusers can open.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.models.selftest_model import TINY_TRANSFORMER

MODULES = ("attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0")


def write_adapter(path: Path, *, rank: int = 4, seed: int = 0, trigger: str = "mira", step: int = 4) -> str:
    """Write an adapter to `path` and return its sha256. Different seeds give different files."""
    import numpy as np
    from safetensors.numpy import save_file

    inner = TINY_TRANSFORMER["num_attention_heads"] * TINY_TRANSFORMER["attention_head_dim"]
    rng = np.random.default_rng(seed)
    tensors = {}
    blocks = [f"transformer_blocks.{i}" for i in range(TINY_TRANSFORMER["num_layers"])]
    blocks += [f"single_transformer_blocks.{i}" for i in range(TINY_TRANSFORMER["num_single_layers"])]
    for block in blocks:
        for module in MODULES:
            key = f"transformer.{block}.{module}"
            tensors[f"{key}.lora_A.weight"] = rng.standard_normal((rank, inner)).astype(np.float32) * 0.01
            tensors[f"{key}.lora_B.weight"] = rng.standard_normal((inner, rank)).astype(np.float32) * 0.01
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"format": "pt", "trigger_word": trigger, "step": str(step)})
    return hashlib.sha256(path.read_bytes()).hexdigest()
