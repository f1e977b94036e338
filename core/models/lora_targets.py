"""Which layers of FLUX.2 klein a LoRA trains: mflux's module paths and block ranges, by geometry.

mflux 0.24.0 names FLUX.2 layers `transformer_blocks.{block}.attn.to_q` etc. (double-stream blocks)
and `single_transformer_blocks.{block}.attn.to_qkv_mlp_proj` (single-stream blocks). The real klein
Base 4B has 5 double and 20 single blocks; the self-test model has 1 and 2.

`Geometry` is the one description of a transformer's shape as far as a LoRA is concerned: the training form's
block ranges, the adapter validation's layer shapes and diffusers' config all read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.models.selftest_model import TINY_TRANSFORMER as TINY

DOUBLE = "transformer_blocks"
SINGLE = "single_transformer_blocks"

DOUBLE_ATTENTION = ("attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out")
DOUBLE_CONTEXT_ATTENTION = ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj", "attn.to_add_out")
DOUBLE_FEED_FORWARD = ("ff.linear_in", "ff.linear_out", "ff_context.linear_in", "ff_context.linear_out")
SINGLE_LAYERS = ("attn.to_qkv_mlp_proj", "attn.to_out")

DOUBLE_LAYERS = DOUBLE_ATTENTION + DOUBLE_CONTEXT_ATTENTION + DOUBLE_FEED_FORWARD


@dataclass(frozen=True)
class Geometry:
    """The shape of a FLUX.2 klein transformer, as far as a LoRA is concerned."""

    key: str
    label: str
    double_blocks: int
    single_blocks: int
    heads: int
    head_dim: int
    joint_attention_dim: int
    axes_dims_rope: tuple[int, ...]
    mlp_ratio: float = 3.0

    @property
    def inner(self) -> int:
        return self.heads * self.head_dim

    @property
    def mlp(self) -> int:
        return int(self.inner * self.mlp_ratio)

    def layers(self) -> dict[str, tuple[int, int]]:
        """Every LoRA-able layer (diffusers naming, no prefix) -> (in_features, out_features)."""
        d, m = self.inner, self.mlp
        out: dict[str, tuple[int, int]] = {}
        for b in range(self.double_blocks):
            p = f"transformer_blocks.{b}"
            for name in ("to_q", "to_k", "to_v", "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"):
                out[f"{p}.attn.{name}"] = (d, d)
            out[f"{p}.attn.to_out.0"] = (d, d)
            for ff in ("ff", "ff_context"):
                out[f"{p}.{ff}.linear_in"] = (d, 2 * m)
                out[f"{p}.{ff}.linear_out"] = (m, d)
        for b in range(self.single_blocks):
            p = f"single_transformer_blocks.{b}"
            out[f"{p}.attn.to_qkv_mlp_proj"] = (d, 3 * d + 2 * m)
            out[f"{p}.attn.to_out"] = (d + m, d)
        return out

    def diffusers_config(self) -> dict:
        """Arguments for diffusers' Flux2Transformer2DModel of this geometry (klein: no guidance embedding)."""
        return dict(
            num_layers=self.double_blocks, num_single_layers=self.single_blocks, attention_head_dim=self.head_dim,
            num_attention_heads=self.heads, joint_attention_dim=self.joint_attention_dim,
            axes_dims_rope=tuple(self.axes_dims_rope), mlp_ratio=self.mlp_ratio, guidance_embeds=False,
        )


KLEIN_4B = Geometry("flux2-klein-4b", "FLUX.2 klein 4B", double_blocks=5, single_blocks=20, heads=24, head_dim=128,
                    joint_attention_dim=7680, axes_dims_rope=(32, 32, 32, 32))
SELFTEST = Geometry("selftest", "FLUX.2 klein (self-test geometry)", double_blocks=TINY["num_layers"],
                    single_blocks=TINY["num_single_layers"], heads=TINY["num_attention_heads"],
                    head_dim=TINY["attention_head_dim"], joint_attention_dim=TINY["joint_attention_dim"],
                    axes_dims_rope=tuple(TINY["axes_dims_rope"]))
GEOMETRIES = (KLEIN_4B, SELFTEST)


# What a person picks in the form ("which blocks"), and what each choice trains.
LAYER_CHOICES = {
    "all": "All layers (double and single blocks): the usual choice for a character",
    "attention": "Attention only (lighter, a bit less likeness)",
    "double": "Double-stream blocks only",
    "single": "Single-stream blocks only",
}


def geometry_for(model_key: str | None) -> Geometry:
    """The geometry of a base model by its key (the real klein 4B unless it is the self-test model)."""
    return SELFTEST if model_key == "selftest" else KLEIN_4B


def all_module_paths() -> list[str]:
    return [f"{DOUBLE}.{{block}}.{name}" for name in DOUBLE_LAYERS] + [f"{SINGLE}.{{block}}.{name}" for name in SINGLE_LAYERS]


def build_targets(choice: str, rank: int, geometry: Geometry) -> list[dict]:
    """mflux `lora_layers.targets` for a layer choice, every block of each kind."""
    if choice not in LAYER_CHOICES:
        raise ValueError(f"unknown layer choice {choice!r}")
    double_names: tuple[str, ...] = ()
    single_names: tuple[str, ...] = ()
    if choice in ("all", "double"):
        double_names = DOUBLE_LAYERS
    if choice in ("all", "single"):
        single_names = SINGLE_LAYERS
    if choice == "attention":
        double_names = DOUBLE_ATTENTION + DOUBLE_CONTEXT_ATTENTION
        single_names = SINGLE_LAYERS
    targets = [
        {"module_path": f"{DOUBLE}.{{block}}.{name}", "blocks": {"start": 0, "end": geometry.double_blocks}, "rank": rank}
        for name in double_names
    ]
    targets += [
        {"module_path": f"{SINGLE}.{{block}}.{name}", "blocks": {"start": 0, "end": geometry.single_blocks}, "rank": rank}
        for name in single_names
    ]
    return targets


def describe_targets(targets: list[dict]) -> tuple[str, int | None]:
    """(layer choice that produced these targets or "custom", the common rank or None)."""
    ranks = {t.get("rank") for t in targets if isinstance(t, dict)}
    rank = ranks.pop() if len(ranks) == 1 else None
    paths = sorted(t.get("module_path", "") for t in targets if isinstance(t, dict))
    for choice in LAYER_CHOICES:
        expected = sorted(t["module_path"] for t in build_targets(choice, 1, KLEIN_4B))
        if paths == expected:
            return choice, rank
    return "custom", rank


def block_count(module_path: str, geometry: Geometry) -> int | None:
    """How many blocks the kind of block in `module_path` has, or None when the path is not a block path."""
    if module_path.startswith(f"{SINGLE}."):
        return geometry.single_blocks
    if module_path.startswith(f"{DOUBLE}."):
        return geometry.double_blocks
    return None


def check_target(target: object, index: int, geometry: Geometry) -> list[str]:
    """Plain-words problems with one `lora_layers.targets[]` entry for this geometry."""
    where = f"LoRA target {index + 1}"
    if not isinstance(target, dict):
        return [f"{where} is not an object with module_path, rank and blocks."]
    problems = []
    path = target.get("module_path")
    known = all_module_paths()
    if not isinstance(path, str) or path not in known:
        import difflib

        close = difflib.get_close_matches(str(path), known, n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else " Use one of the FLUX.2 layer names (e.g. 'transformer_blocks.{block}.attn.to_q')."
        problems.append(f"{where}: '{path}' is not a layer of FLUX.2 klein.{hint}")
        return problems
    rank = target.get("rank")
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= 256:
        problems.append(f"{where} ({path}): rank must be a whole number from 1 to 256, not {rank!r}.")
    blocks = target.get("blocks")
    count = block_count(path, geometry)
    if blocks is None:
        problems.append(f"{where} ({path}): 'blocks' is missing; give {{\"start\": 0, \"end\": {count}}}.")
        return problems
    if not isinstance(blocks, dict):
        problems.append(f"{where} ({path}): 'blocks' must be an object like {{\"start\": 0, \"end\": {count}}}.")
        return problems
    unknown = set(blocks) - {"start", "end", "indices"}
    if unknown:
        problems.append(f"{where} ({path}): 'blocks' has unknown keys {sorted(unknown)}; use start/end or indices.")
    kind = "single-stream" if path.startswith(SINGLE) else "double-stream"
    if blocks.get("indices") is not None:
        indices = blocks["indices"]
        if not isinstance(indices, list) or not all(isinstance(i, int) for i in indices):
            problems.append(f"{where} ({path}): 'indices' must be a list of block numbers.")
        elif any(i < 0 or i >= count for i in indices):
            problems.append(f"{where} ({path}): block numbers must be 0 to {count - 1}; this model has {count} {kind} blocks.")
        return problems
    start, end = blocks.get("start"), blocks.get("end")
    if not isinstance(start, int) or not isinstance(end, int):
        problems.append(f"{where} ({path}): 'blocks' needs whole-number start and end (or indices).")
    elif not 0 <= start < end:
        problems.append(f"{where} ({path}): blocks start {start} must be smaller than end {end} and not negative.")
    elif end > count:
        problems.append(f"{where} ({path}): blocks end {end} is past the last block; this model has {count} {kind} blocks (use end {count}).")
    return problems
