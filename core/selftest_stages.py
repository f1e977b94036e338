"""The self-test's stages, in the order of the work. Each returns one line of what it checked."""

from __future__ import annotations

from core.selftest import SelftestRun, Stage


def stage_model(run: SelftestRun) -> str:
    from core import selftest_model

    model_dir = selftest_model.ensure(run.settings.cache_dir)
    run.data["model_dir"] = model_dir
    size = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    return f"tiny random FLUX.2 klein ready ({size / 1e6:.1f} MB)"


def stage_images(run: SelftestRun) -> str:
    from core.sample_images import write_character_set

    folder = run.root / "incoming"
    paths = write_character_set(folder, count=4, size=(96, 128))
    run.data["incoming"] = folder
    return f"{len(paths)} character pictures drawn in {folder.name}/"


STAGES: tuple[Stage, ...] = (
    Stage("model", "Self-test model", stage_model),
    Stage("images", "Sample pictures", stage_images),
)
