"""Local vs Runware: the same prompts, seed, size, steps, guidance and LoRA strength on both, side by side.

    for event in compare_stages(settings, run_id, prompts=["{trigger}, portrait"]):   # Progress events
        event.payload.get("pair")                   # a Pair (as a dict) as it fills in
    report = ...                                    # the last event's result, and the generator's return value

Runware requests go out concurrently (bounded) over one connection while the local images are made one
after another on the warm local engine (core.generation.local); each pair is scored as soon as both sides are
in: SSIM between the two (core.checkpoints.similarity) and each image's likeness to the run's dataset
(core.checkpoints.likeness, from the Checkpoints work). A failed item, local or Runware, never stops the batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generator

from core import storage
from core.checkpoints import likeness
from core.checkpoints.similarity import ssim
from core.checkpoints.store import read_chosen
from core.dataset.preview_prompts import load_test_prompts, with_trigger
from core.generation import local as generation
from core.models import base as models
from core.runware.cloud import DEFAULT_CONCURRENCY, CloudRequest, LoraRef, generate_many
from core.errors import AppError, RunwareUnknownAir, describe
from core.playground import spend
from core.playground.report import Pair, Report, load_report, new_report_folder
from core.progress import Cancellation, Cancelled, Progress, drain, relay
from core.publishing.record import read_record
from core.runs.paths import RunPaths, run_paths
from core.runware.air import BASE_AIR, DISTILLED_AIR
from core.settings import Settings
from core.workspace import Workspace

log = logging.getLogger("core.playground.pairs")


@dataclass
class RunFacts:
    """What a run tells the Playground: its LoRA on Runware, its adapter locally, its dataset."""

    paths: RunPaths
    trigger: str
    local_model: str | None
    adapter_path: Path | None
    strength: float | None
    lora_air: str | None
    dataset_images: list[Path]


def lora_air_from_publish(paths: RunPaths) -> str | None:
    """The newest AIR Runware reported ready for this run (the publish record, core.publishing.record), else the
    newest registered one, so Runware itself can say why it is not ready."""
    record = read_record(paths)
    return record.ready_air() or record.newest_air()


def run_facts(workspace: Workspace, run_id: str) -> RunFacts:
    paths = run_paths(workspace, run_id, must_exist=True)
    record = paths.read_record()
    chosen = read_chosen(paths)
    trigger = (chosen.trigger if chosen and chosen.trigger else None) or record.trigger or ""
    return RunFacts(paths=paths, trigger=trigger, local_model=record.model or None,
                    adapter_path=Path(chosen.adapter_path) if chosen else None,
                    strength=chosen.strength if chosen else None, lora_air=lora_air_from_publish(paths),
                    dataset_images=likeness.dataset_images_of_run(workspace, paths))


def local_model_for(base_air: str, run_model: str | None) -> str | None:
    """The local model matching Runware's base: the run's own for the Base, the distilled one for @4."""
    if run_model in (None, "", "selftest"):
        return run_model or None
    return "flux2-klein-4b" if base_air == DISTILLED_AIR else run_model


def compare_stages(settings: Settings, run_id: str, *, prompts: list[str] | None = None,
                   prompts_file: Path | None = None, lora_air: str | None = None, strength: float | None = None,
                   base_air: str = BASE_AIR, seed: int = 7, width: int = 1024, height: int = 1024,
                   steps: int | None = None, guidance: float | None = None, local: bool = True,
                   concurrency: int = DEFAULT_CONCURRENCY, timeout: float = 180.0,
                   cancel: Cancellation | None = None) -> Generator[Progress[Report], None, Report]:
    """Generate every prompt locally and on Runware, score the pairs, save a report; yields Progress whose
    payload carries the changed "pair" and the "report" folder. The last event's result is the Report, which is
    also returned (also when stopped). Likeness is scored with settings.likeness_model."""
    workspace = Workspace(settings.workspace)
    facts = run_facts(workspace, run_id)
    cancel = cancel or Cancellation()
    air = (lora_air or facts.lora_air or "").strip()
    if not air:
        raise RunwareUnknownAir(f"Run {run_id} has no LoRA registered on Runware yet.",
                                "Publish it in the Publish tab (or type its AIR, source:id@version).", lora=True)
    weight = float(strength if strength is not None else (facts.strength or 1.0))
    texts = [with_trigger(p, facts.trigger) for p in (prompts or load_test_prompts(prompts_file))]
    local_model = local_model_for(base_air, facts.local_model) if local else None
    steps, guidance = _defaults(local_model, steps, guidance)
    report = Report(folder=new_report_folder(facts.paths), run_id=facts.paths.run_id, pairs=[
        Pair(index=i, prompt=text, seed=seed) for i, text in enumerate(texts)], settings={
        "base_air": base_air, "lora_air": air, "strength": weight, "seed": seed, "width": width, "height": height,
        "steps": steps, "guidance": guidance, "local_model": local_model,
        "adapter": str(facts.adapter_path) if facts.adapter_path else None, "concurrency": concurrency})
    if local and not (local_model and facts.adapter_path):
        report.notes.append("No local side: choose a checkpoint for this run in the Checkpoints tab first.")
    scorer = _Likeness(facts.dataset_images, report, settings.likeness_model, settings.hf_endpoint)
    report.save()
    requests = [CloudRequest(text, model=base_air, loras=(LoraRef(air, weight),), seed=seed, width=width,
                             height=height, steps=steps, cfg=guidance, timeout=timeout) for text in texts]
    sides = [lambda emit: _cloud_side(settings, requests, report.folder, concurrency, cancel, emit)]
    if local and local_model and facts.adapter_path:
        sides.append(lambda emit: _local_side(settings, workspace, facts, local_model, report, weight, cancel, emit))
    else:
        for pair in report.pairs:
            pair.local_error = "No local image: no checkpoint is chosen for this run." if local else "Local side off."
    total, started = len(report.pairs) * 2, time.monotonic()
    yield Progress(0, total, f"Comparing {len(texts)} prompts: Runware and local at once.", {"report": str(report.folder)})
    for side, index, outcome in relay(*sides, name="playground-side"):
        if side == "failed":  # the Runware side as a whole (connection, key)
            if not isinstance(outcome, Cancelled):
                report.error = str(outcome)
                for pair in report.pairs:
                    if not pair.cloud_done:
                        pair.cloud_error = str(outcome)
            continue
        pair = report.pairs[index]
        _fill(pair, side, outcome, report.folder)
        if side == "cloud" and not isinstance(outcome, Exception):
            spend.add(workspace, outcome[0].cost)  # today's Playground total, kept across reloads
        if pair.local_done and pair.cloud_done:
            _score(pair, report.folder, scorer)
        report.save()
        done = sum(int(p.local_done) + int(p.cloud_done) for p in report.pairs)
        what = "Runware" if side == "cloud" else "local"
        yield Progress(done, total, f"Prompt {index + 1}: {what} {'failed' if isinstance(outcome, Exception) else 'done'}.",
                       {"pair": pair.to_dict(), "report": str(report.folder)})
    for pair in report.pairs:  # pairs whose other side was skipped or failed early
        if pair.ssim is None and pair.likeness_cloud is None and pair.likeness_local is None:
            _score(pair, report.folder, scorer)
    report.status = "stopped" if cancel.requested else ("failed" if report.error else "completed")
    report.finished_at = time.time()
    report.settings["wall_seconds"] = round(time.monotonic() - started, 2)
    report.save()
    yield Progress(total, total, f"Report {report.status}: {report.folder}", {"report": str(report.folder)}, report)
    return report


def compare(settings: Settings, run_id: str, **options: Any) -> Report:
    return drain(compare_stages(settings, run_id, **options))


def _defaults(local_model: str | None, steps: int | None, guidance: float | None) -> tuple[int | None, float | None]:
    """Steps and guidance for both sides: the local model's defaults when not given, so they match."""
    if local_model and (steps is None or guidance is None):
        try:
            base = models.resolve(local_model)
            steps = steps or base.default_steps
            guidance = base.default_guidance if guidance is None else guidance
        except AppError:
            pass
    return steps, guidance


def _cloud_side(settings, requests, folder, concurrency, cancel, emit) -> None:
    try:
        names = [f"{i:02d}-runware" for i in range(len(requests))]
        for index, result in generate_many(settings, requests, out_dir=folder, concurrency=concurrency,
                                           cancel=cancel, names=names):
            emit(("cloud", index, result))
    except BaseException as exc:  # noqa: BLE001 - reported in the report, never lost
        emit(("failed", -1, exc))


def _local_side(settings, workspace, facts: RunFacts, model: str, report: Report, weight: float,
                cancel: Cancellation, emit) -> None:
    for pair in report.pairs:
        if cancel.requested:
            break
        spec = {"prompt": pair.prompt, "model": model, "seed": pair.seed, "width": report.settings["width"],
                "height": report.settings["height"], "steps": report.settings["steps"],
                "guidance": report.settings["guidance"], "loras": [(str(facts.adapter_path), weight)]}
        started = time.monotonic()
        try:
            cached = _cached_local(workspace, facts.paths, spec)
            if cached is None:
                image = generation.generate(workspace, generation.GenerateRequest(**spec), cancel, settings)
                cached = _remember_local(facts.paths, spec, image.path)
                emit(("local", pair.index, (cached, False, time.monotonic() - started)))
            else:
                emit(("local", pair.index, (cached, True, 0.0)))
        except Cancelled:
            break
        except Exception as exc:  # noqa: BLE001 - one failed image, the batch goes on
            emit(("local", pair.index, exc))


def _cache_key(spec: dict[str, Any]) -> str:
    adapter = Path(spec["loras"][0][0])
    stat = adapter.stat() if adapter.exists() else None
    fingerprint = {**spec, "adapter": [str(adapter), stat.st_size if stat else 0, stat.st_mtime_ns if stat else 0]}
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _cached_local(workspace: Workspace, paths: RunPaths, spec: dict[str, Any]) -> Path | None:
    """A local image made earlier with exactly these settings: by the Playground, or in Local Generate's
    history (same prompt, model, seed, size, steps, guidance, adapter file and strength)."""
    path = paths.root / "playground" / "local-cache" / f"{_cache_key(spec)}.png"
    if path.is_file():
        return path
    want = (spec["prompt"], spec["model"], spec["seed"], spec["width"], spec["height"], spec["steps"],
            None if spec["guidance"] is None else float(spec["guidance"]),
            [(str(Path(p)), float(s)) for p, s in spec["loras"]], None)
    for image in generation.history(workspace, limit=300):
        made = image.settings or {}
        have = (made.get("prompt"), made.get("model"), made.get("seed"), made.get("width"), made.get("height"),
                made.get("steps"), made.get("guidance"),
                [(item.get("path"), item.get("strength")) for item in made.get("loras") or []], made.get("quantize"))
        if have == want and image.path.is_file():
            return _remember_local(paths, spec, image.path)
    return None


def _remember_local(paths: RunPaths, spec: dict[str, Any], image: Path) -> Path:
    target = paths.root / "playground" / "local-cache" / f"{_cache_key(spec)}.png"
    storage.write_bytes(target, Path(image).read_bytes())
    storage.write_json(target.with_suffix(".json"), {**spec, "source": str(image)})
    return target


def _fill(pair: Pair, side: str, outcome: Any, folder: Path) -> None:
    if side == "cloud":
        if isinstance(outcome, Exception):
            pair.cloud_error = str(outcome)
            return
        image = outcome[0]
        pair.cloud_image, pair.cost, pair.cloud_seconds = image.path.name, image.cost, image.seconds
        return
    if isinstance(outcome, Exception):
        pair.local_error = str(outcome) if isinstance(outcome, AppError) else f"Local generation failed: {outcome}."
        return
    source, cached, seconds = outcome
    name = f"{pair.index:02d}-local.png"
    shutil.copyfile(source, folder / name)
    pair.local_image, pair.local_cached, pair.local_seconds = name, cached, round(seconds, 2)


DEFAULT_HUB = "https://huggingface.co"


def likeness_problem(error: BaseException, model: str | None, endpoint: str | None = None) -> str:
    """One sentence for the page and the report: why the likeness columns are empty, naming where the model was
    looked for (the folder, or the Hub host actually used: HF_ENDPOINT when set)."""
    name = likeness.model_name(model)
    where = f"the folder {name}" if Path(name).is_absolute() or Path(name).exists() else \
        f"{(endpoint or DEFAULT_HUB).rstrip('/')}"
    sentence = describe(error)
    if where not in sentence:
        sentence = f"{sentence} (the likeness model {name} is read from {where})"
    return f"Likeness was not scored: {sentence}"


class _Likeness:
    """Likeness of images to the dataset (core.checkpoints.likeness with `model`; scored in this thread).
    A model that cannot be loaded leaves the scores empty and says why once, in the report's notes."""

    def __init__(self, dataset_images: list[Path], report: Report, model: str | None,
                 endpoint: str | None = None) -> None:
        self.dataset_images = dataset_images
        self.model = model
        self.endpoint = endpoint
        self.report = report
        self.problem: str | None = None
        if not dataset_images:
            report.notes.append("No dataset images were found for this run, so likeness cannot be scored.")

    def __call__(self, paths: list[Path]) -> list[float | None]:
        if not self.dataset_images or not paths or self.problem:
            return [None] * len(paths)
        try:
            return [round(float(v), 4) for v in likeness.score(paths, self.dataset_images, model=self.model)]
        except Exception as error:  # noqa: BLE001 - a scoring failure leaves the images and the other scores
            log.exception("likeness scoring failed")
            self.problem = likeness_problem(error, self.model, self.endpoint)
            self.report.notes.append(self.problem)
            return [None] * len(paths)


def _score(pair: Pair, folder: Path, scorer: _Likeness) -> None:
    local, cloud = (folder / pair.local_image if pair.local_image else None,
                    folder / pair.cloud_image if pair.cloud_image else None)
    if local and cloud:
        pair.ssim = ssim(local, cloud)
    present = [p for p in (local, cloud) if p]
    scores = dict(zip(present, scorer(present)))
    pair.likeness_local = scores.get(local) if local else None
    pair.likeness_cloud = scores.get(cloud) if cloud else None


def reopen(settings: Settings, run_id: str, name: str) -> Report:
    """A saved report of a run, by its folder name."""
    paths = run_paths(Workspace(settings.workspace), run_id, must_exist=True)
    return load_report(paths.root / "playground" / name)
