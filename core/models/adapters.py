"""LoRA adapter files: what is in them, and whether they fit FLUX.2 klein's transformer.

A klein LoRA has `lora_A` [rank, in] and `lora_B` [out, rank] pairs on these layers (mflux 0.24.0):

    transformer_blocks.N.attn.{to_q,to_k,to_v,to_out,add_q_proj,add_k_proj,add_v_proj,to_add_out}
    transformer_blocks.N.{ff,ff_context}.{linear_in,linear_out}
    single_transformer_blocks.N.attn.{to_qkv_mlp_proj,to_out}

mflux writes the double blocks' output projection as `attn.to_out.`; diffusers/PEFT (and so the Hub,
ComfyUI's loaders and Runware) expect `attn.to_out.0.`. `diffusers_key()` does that rename.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.errors import AdapterError
from core.models.lora_targets import GEOMETRIES, Geometry


_PREFIXES = ("transformer.", "diffusion_model.", "base_model.model.")
_SUFFIX = re.compile(r"\.(lora_A|lora_B)(?:\.default)?\.weight$")
_MFLUX_TO_OUT = re.compile(r"^(transformer_blocks\.\d+\.attn\.to_out)\.(lora_[AB])")


def diffusers_key(key: str) -> str:
    """mflux's key -> diffusers/PEFT's: `transformer.` prefix, double-block `attn.to_out.0`."""
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
            break
    key = _MFLUX_TO_OUT.sub(r"\1.0.\2", key)
    return "transformer." + key


def _split(key: str) -> tuple[str, str] | None:
    """(layer in diffusers naming, 'A'|'B') for a LoRA key, or None when it is not one."""
    match = _SUFFIX.search(key)
    if not match:
        return None
    layer = key[: match.start()]
    for prefix in _PREFIXES:
        if layer.startswith(prefix):
            layer = layer[len(prefix):]
            break
    layer = re.sub(r"^(transformer_blocks\.\d+\.attn\.to_out)$", r"\1.0", layer)
    return layer, match.group(1)[-1]


@dataclass
class AdapterReport:
    path: str
    geometry: str
    total_keys: int
    matched_keys: int
    layers: int
    rank: int | None
    dtype: str | None
    double_blocks: list[int]
    single_blocks: list[int]
    naming: str  # "diffusers" (attn.to_out.0) or "mflux" (attn.to_out)
    metadata: dict[str, str]
    problems: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if not self.ok:
            return self.problems[0]
        return (f"{self.matched_keys} of {self.total_keys} keys match {self.geometry}: {self.layers} layers, rank {self.rank}, "
                f"{self.dtype}, double blocks {self.double_blocks}, single blocks {self.single_blocks}, {self.naming} naming.")

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok, "summary": self.summary()}


def read_tensors(path: Path) -> tuple[dict, dict[str, str]]:
    """(name -> numpy array, metadata) of a safetensors file; a clear error for anything else."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise AdapterError(f"There is no adapter file at {path}.", "Check the path.")
    try:
        with safe_open(str(path), framework="np") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError, TypeError) as error:
        raise AdapterError(f"{path.name} is not a complete safetensors file ({error}).",
                           "Export it again from its checkpoint, or download it again.") from None
    if not tensors:
        raise AdapterError(f"{path.name} holds no tensors.", "Export it again from its checkpoint.")
    return tensors, metadata


def inspect_tensors(tensors: dict, metadata: dict, path: str = "", geometry: Geometry | None = None) -> AdapterReport:
    """What the tensors contain and everything wrong with them for `geometry` (best-fitting one when None)."""
    import numpy as np

    if geometry is None:
        reports = [inspect_tensors(tensors, metadata, path, g) for g in GEOMETRIES]
        return max(reports, key=lambda r: (r.ok, r.matched_keys))
    known = geometry.layers()
    pairs: dict[str, dict[str, object]] = {}
    unmatched: list[str] = []
    for key, array in tensors.items():
        split = _split(key)
        if split is None or split[0] not in known:
            unmatched.append(key)
            continue
        pairs.setdefault(split[0], {})[split[1]] = array
    problems: list[str] = []
    matched = len(tensors) - len(unmatched)
    if unmatched:
        problems.append(f"{matched} of {len(tensors)} keys match {geometry.label}; for example '{unmatched[0]}' does not. "
                        "This adapter was made for another model (FLUX.1, SDXL, ...) or another size.")
    ranks, dtypes = set(), set()
    for layer, parts in sorted(pairs.items()):
        if set(parts) != {"A", "B"}:
            problems.append(f"{layer} has only lora_{''.join(parts)}; the file is incomplete.")
            continue
        a, b = parts["A"], parts["B"]
        fan_in, fan_out = known[layer]
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != fan_in or b.shape[0] != fan_out or a.shape[0] != b.shape[1]:
            problems.append(f"{layer} has shapes A{list(a.shape)} B{list(b.shape)}, but {geometry.label} needs A[r, {fan_in}] B[{fan_out}, r].")
            continue
        ranks.add(int(a.shape[0]))
        dtypes.add(str(a.dtype))
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            problems.append(f"{layer} contains NaN or infinite numbers; this checkpoint is broken (training diverged).")
    shape_problems = [p for p in problems if " has shapes " in p]
    if len(shape_problems) > 1:
        problems.insert(0, f"{len(shape_problems)} of {len(pairs)} layers do not have {geometry.label}'s shapes "
                           f"(trained for another size of the model); e.g. {shape_problems[0]}")
    doubles = sorted({int(l.split(".")[1]) for l in pairs if l.startswith("transformer_blocks.")})
    singles = sorted({int(l.split(".")[1]) for l in pairs if l.startswith("single_transformer_blocks.")})
    naming = "mflux" if any(re.search(r"(^|\.)transformer_blocks\.\d+\.attn\.to_out\.lora_", k) for k in tensors) else "diffusers"
    return AdapterReport(
        path=str(path), geometry=geometry.label, total_keys=len(tensors), matched_keys=matched, layers=len(pairs),
        rank=max(ranks) if ranks else None, dtype=",".join(sorted(dtypes)) or None, double_blocks=doubles,
        single_blocks=singles, naming=naming, metadata=dict(metadata), problems=problems, unmatched=unmatched[:20],
    )


def inspect(path: Path, geometry: Geometry | None = None) -> AdapterReport:
    tensors, metadata = read_tensors(path)
    return inspect_tensors(tensors, metadata, str(path), geometry)


def validate(path: Path, geometry: Geometry | None = None) -> AdapterReport:
    """inspect(), raising AdapterError with the first problem when the adapter does not fit."""
    report = inspect(path, geometry)
    if not report.ok:
        raise AdapterError(f"{Path(path).name}: {report.problems[0]}", "Use an adapter trained for FLUX.2 klein with this app.")
    return report


def sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_DTYPES = {"float32": "F32", "float16": "F16", "float64": "F64", "int64": "I64", "int32": "I32", "uint8": "U8"}


def safetensors_bytes(tensors: dict, metadata: dict[str, str]) -> bytes:
    """A safetensors file with a deterministic header (sorted names), so equal content hashes equally.
    (The safetensors library orders metadata through a hash map, which differs between calls.)"""
    import json

    import numpy as np

    header: dict = {"__metadata__": {k: str(v) for k, v in sorted(metadata.items())}}
    chunks, offset = [], 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        if array.dtype.name not in _DTYPES:
            raise AdapterError(f"{name} has dtype {array.dtype}, which cannot be exported.", "Export a float32 or float16 adapter.")
        raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[array.dtype.name], "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    return len(encoded).to_bytes(8, "little") + encoded + b"".join(chunks)
