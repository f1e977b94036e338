"""The self-test's stages, in the order of the work. Each returns one line of what it checked and raises
(AssertionError or AppError) with a sentence when the check fails."""

from __future__ import annotations

import dataclasses

from core.progress import drain
from core.selftest.stage import SelftestRun, Stage
from core.models import adapters, lora_targets, selftest_model
from core.dataset import datasets, importer as dataset_import, preflight
from core.selftest.pictures import write_character_set
from core.captions import captioner, store as captions
from core.selftest.offline import hub_server, runware_server, tiny_dinov2, tiny_florence
from core.training import config as train_config, runner as training
from core.runs import events as run_events
from core.runs.paths import run_paths
from core.checkpoints import compare, store as checkpoints
from core.generation import local as generation
from core.publishing import publish
from core.settings import register_secret
from core.playground import pairs as playground

DATASET = "selftest"
TRIGGER = "mira"
IMAGES = 4
EPOCHS = 4  # 16 steps: room for a Stop to land mid-run
SIZE = 64


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def stage_model(run: SelftestRun) -> str:
    model_dir = selftest_model.ensure(run.settings.cache_dir)
    run.data["model_dir"] = model_dir
    size = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    return f"tiny random FLUX.2 klein ready ({size / 1e6:.1f} MB)"


def stage_import(run: SelftestRun) -> str:
    incoming = run.root / "incoming"
    write_character_set(incoming, count=IMAGES, size=(96, 128))
    report = dataset_import.run_import(run.workspace, DATASET, [incoming], workers=1)
    images = sorted(run.workspace.dataset_images_dir(DATASET).glob("*.png"))
    _expect(len(images) == IMAGES, f"{IMAGES} pictures were imported but {len(images)} training images exist")
    return f"{len(images)} drawn pictures imported as PNG into datasets/{DATASET}/images ({report.summary()})"


def stage_captions(run: SelftestRun) -> str:
    options = captioner.CaptionOptions(model=str(tiny_florence(run.settings.cache_dir)), trigger=TRIGGER, device="cpu",
                                       max_new_tokens=8, num_beams=1)
    result = captioner.run_all(run.workspace, datasets.open_dataset(run.workspace, DATASET), options, cancel=run.cancel)
    _expect(len(result.captioned) == IMAGES and not result.failed, f"auto-captions: {result.summary()}")
    dataset = datasets.open_dataset(run.workspace, DATASET)
    texts = [captions.read(dataset, item.stem) for item in dataset.items()]
    _expect(all(t.startswith(TRIGGER) for t in texts), "a caption does not start with the trigger word")
    return f"{len(texts)} captions written by a tiny Florence-2, trigger word first"


def stage_check(run: SelftestRun) -> str:
    result = preflight.check(run.workspace, DATASET, trigger=TRIGGER, resolution=SIZE)
    _expect(result.ready, "pre-flight found errors: " + "; ".join(f.message for f in result.errors[:3]))
    return result.summary()


def stage_train(run: SelftestRun) -> str:
    plan = train_config.compose(run.workspace, DATASET, TRIGGER, ["selftest"])
    plan.epochs = EPOCHS
    first = training.start(run.workspace, run.settings, plan)
    run.data["run_id"] = first.run_id
    _wait_for_step(run, first.run_id)
    training.stop(run.workspace, first.run_id)
    stopped = training.wait(run.workspace, first.run_id, timeout=300)
    _expect(stopped.status == "stopped" and stopped.resumable,
            f"after Stop the run is '{stopped.status}' (expected stopped with a checkpoint)")
    stop_step = stopped.step
    training.resume(run.workspace, first.run_id)
    done = training.wait(run.workspace, first.run_id, timeout=600)
    _expect(done.status == "completed", f"the resumed run ended '{done.status}': {done.message}")
    _expect(done.step == done.total and done.step > stop_step, "the resumed run did not continue the step count")
    run.data["last_step"] = done.checkpoints[-1]
    return f"stopped at step {stop_step} with a checkpoint, resumed to step {done.step}/{done.total}"


def _wait_for_step(run: SelftestRun, run_id: str, timeout: float = 300) -> None:
    import time

    deadline = time.monotonic() + timeout
    paths = run_paths(run.workspace, run_id)
    while not any(e.get("type") == "step" for e in run_events.read_all(paths)):
        _expect(time.monotonic() < deadline, "the training worker reported no step within five minutes")
        run.cancel.check()
        time.sleep(0.1)


def stage_export(run: SelftestRun) -> str:
    paths = run_paths(run.workspace, run.data["run_id"])
    chosen = checkpoints.choose(run.workspace, run.data["run_id"], run.data["last_step"], 1.0)
    report = adapters.validate(chosen.adapter_path, lora_targets.SELFTEST)
    run.data["adapter"] = chosen.adapter_path
    listed = checkpoints.list_checkpoints(paths)
    return f"{len(listed)} checkpoints listed; step {chosen.step} exported in diffusers naming and valid ({report.summary()})"


def stage_grid(run: SelftestRun) -> str:
    spec = compare.GridSpec(run.data["run_id"], prompts=[f"{TRIGGER}, portrait", f"{TRIGGER}, walking"],
                            steps=[run.data["last_step"]], width=SIZE, height=SIZE, sample_steps=2)
    cells = [e.payload["cell"] for e in compare.run_grid(run.workspace, spec, cancel=run.cancel, settings=run.settings)
             if "cell" in e.payload]
    _expect(len(cells) == 4, f"the grid made {len(cells)} of 4 cells (base + checkpoint, 2 prompts)")
    return f"{len(cells)} grid cells (base and checkpoint x 2 prompts) on one warm model"


def stage_generate(run: SelftestRun) -> str:
    request = generation.GenerateRequest(prompt=f"{TRIGGER}, smiling", model="selftest", seed=3, width=SIZE, height=SIZE,
                                         steps=2, loras=[(str(run.data["adapter"]), 1.2)])
    image = generation.generate(run.workspace, request, cancel=run.cancel, settings=run.settings)
    _expect(image.path.is_file(), "no image file was written")
    return f"one image with the LoRA at 1.2 saved with its settings ({image.path.name})"


def stage_publish(run: SelftestRun) -> str:
    from huggingface_hub import constants

    # The loopback Hub speaks the LFS upload protocol, not Xet (which needs the Hub's storage service).
    run.cleanup.callback(setattr, constants, "HF_HUB_DISABLE_XET", constants.HF_HUB_DISABLE_XET)
    constants.HF_HUB_DISABLE_XET = True
    hub, token = hub_server()
    run.cleanup.callback(hub.stop)
    runware = runware_server()
    run.cleanup.callback(runware.stop)
    register_secret("HF_TOKEN", token)
    register_secret("RUNWARE_API_KEY", runware.api_key)
    run.settings = dataclasses.replace(run.settings, hf_token=token, hf_endpoint=hub.url, runware_api_key=runware.api_key,
                                       runware_ws_url=runware.url)
    request = publish.PublishRequest(run.data["run_id"], repo_id="selftest-lora", air="selftest:mira",
                                     allow_selftest=True)  # the tiny model's adapter, labelled as a self-test
    version = drain(publish.publish(run.settings, request, cancel=run.cancel))
    status = version.runware_status if version else None
    _expect(status == "ready", f"Runware registration ended '{status}'")
    _expect(bool(version.selftest), "the self-test adapter was published without its self-test label")
    run.data["air"] = version.air
    return f"one Hub commit ({(version.commit or '')[:8]}) on a loopback Hub; Runware model {version.air} ready"


def stage_runware(run: SelftestRun) -> str:
    settings = dataclasses.replace(run.settings, likeness_model=str(tiny_dinov2(run.settings.cache_dir)))
    report = playground.compare(settings, run.data["run_id"], prompts=[f"{TRIGGER}, portrait"], width=128,
                                height=128, steps=2, cancel=run.cancel)  # Runware's smallest size
    failures = [p.cloud_error or p.local_error for p in report.pairs if p.cloud_error or p.local_error]
    _expect(report.pairs and not failures, f"the local vs Runware pair failed: {failures[:1]}")
    return f"{len(report.pairs)} local vs Runware pair(s) scored; report saved in {report.folder.name}/"


STAGES: tuple[Stage, ...] = (
    Stage("model", "Self-test model", stage_model),
    Stage("import", "Dataset import", stage_import),
    Stage("captions", "Auto-captions", stage_captions, needs=("import",)),
    Stage("check", "Pre-flight check", stage_check, needs=("captions",)),
    Stage("train", "Train, stop and resume", stage_train, needs=("model", "check")),
    Stage("export", "Checkpoint export", stage_export, needs=("train",)),
    Stage("grid", "Comparison grid", stage_grid, needs=("train",)),
    Stage("generate", "Local generation", stage_generate, needs=("export",)),
    Stage("publish", "Publish and register", stage_publish, needs=("export",)),
    Stage("runware", "Runware vs local", stage_runware, needs=("publish",)),
)
