"""What this machine is and whether it can run the pipeline: the header of the app, `python -m core doctor`."""

from __future__ import annotations

import functools

import importlib.metadata
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from core import constants, storage
from core.settings import Settings

GIB = constants.GIB


@dataclass
class Diagnosis:
    python: str
    platform: str
    machine: str
    chip: str
    memory_gb: float
    mlx_version: str | None
    mlx_backend: str  # "metal", "cuda", "cpu" or "missing"
    mlx_device: str
    mflux_version: str | None
    workspace: str
    free_disk_gb: float
    klein_base_cached: bool
    klein_distilled_cached: bool
    secrets: dict[str, str]
    problems: list[str] = field(default_factory=list)  # the pipeline cannot run
    warnings: list[str] = field(default_factory=list)  # it can, but something needs attention

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}

    def summary(self) -> str:
        """One line for the app's header."""
        tokens = ", ".join(f"{name} {'✓' if not value.startswith('not') else 'missing'}" for name, value in self.secrets.items())
        return (
            f"{self.chip} · {self.memory_gb:.0f} GB · MLX {self.mlx_backend} ({self.mlx_device}) · "
            f"mflux {self.mflux_version or 'missing'} · {self.free_disk_gb:.0f} GB free · {tokens}"
        )


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def chip_name() -> str:
    if sys.platform == "darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5)
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@dataclass(frozen=True)
class Memory:
    """The machine's physical memory (on Apple Silicon: the unified memory), in bytes."""

    total: int
    available: int  # what new work can take right now without swapping

    @property
    def available_share(self) -> float:
        return self.available / self.total if self.total else 0.0


def memory() -> Memory:
    """The memory probe (psutil), for the header, the memory presets and the VAE decode mode."""
    probe = psutil.virtual_memory()
    return Memory(total=int(probe.total), available=int(probe.available))


def mlx_status() -> tuple[str | None, str, str]:
    """(mlx version, backend, default device); imports mlx, so call it off the start-up path."""
    version = _package_version("mlx")
    if version is None:
        return None, "missing", "none"
    try:
        import mlx.core as mx
    except Exception as exc:  # a broken install must not stop the diagnosis
        return version, "missing", f"import failed: {exc}"
    device = str(mx.default_device())
    if mx.metal.is_available():
        backend = "metal"
    elif hasattr(mx, "cuda") and mx.cuda.is_available():
        backend = "cuda"
    else:
        backend = "cpu"
    return version, backend, device.replace("Device(", "").rstrip(")")


def pinned_revision(repo: str) -> str | None:
    """The Hub commit of `repo` that the installed mflux loads, or None when it loads any snapshot."""
    try:
        from mflux.models.common.resolution.model_revisions import ModelRevisions
    except ImportError:
        return None
    return ModelRevisions.get(repo)


@functools.lru_cache(maxsize=1)
def backend() -> str:
    """Where MLX computes on this machine: "metal", "cuda" or "cpu" (or "missing"); imports mlx once."""
    return mlx_status()[1]


def weights_in_cache(repo: str) -> bool:
    """Whether the local Hugging Face cache holds transformer weights of `repo` that mflux will load: the snapshot
    of the revision mflux pins for it (mflux 0.24.0 ignores every other snapshot and downloads its own, about
    15 GB for FLUX.2 klein 4B), or any snapshot for a repo mflux does not pin."""
    from huggingface_hub import constants as hub_constants

    snapshots = Path(hub_constants.HF_HUB_CACHE) / ("models--" + repo.replace("/", "--")) / "snapshots"
    if not snapshots.is_dir():
        return False
    pinned = pinned_revision(repo)
    candidates = [snapshots / pinned] if pinned else list(snapshots.iterdir())
    return any(snapshot.is_dir() and any(snapshot.glob("transformer/*.safetensors")) for snapshot in candidates)


def diagnose(settings: Settings) -> Diagnosis:
    mlx_version, backend, device = mlx_status()
    free = storage.free_bytes(settings.workspace)
    mem = memory().total
    diagnosis = Diagnosis(
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.release()}",
        machine=platform.machine(),
        chip=chip_name(),
        memory_gb=round(mem / GIB, 1),
        mlx_version=mlx_version,
        mlx_backend=backend,
        mlx_device=device,
        mflux_version=_package_version("mflux"),
        workspace=str(settings.workspace),
        free_disk_gb=round(free / GIB, 1),
        klein_base_cached=weights_in_cache(constants.KLEIN_BASE_4B_REPO),
        klein_distilled_cached=weights_in_cache(constants.KLEIN_4B_REPO),
        secrets=settings.secrets_status(),
    )
    if diagnosis.mflux_version is None:
        diagnosis.problems.append("mflux is not installed; run `make run` (it installs the pinned requirements).")
    if backend == "missing":
        diagnosis.problems.append("MLX is not usable; run `make run` to reinstall the pinned requirements.")
    if free < 20 * GIB:
        diagnosis.warnings.append(
            f"Only {free / GIB:.0f} GB free at {settings.workspace}; the klein 4B weights need ~15 GB and checkpoints more."
        )
    diagnosis.warnings.extend(settings.warnings)
    return diagnosis
