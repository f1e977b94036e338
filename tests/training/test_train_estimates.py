"""What the Check promises before a run: the ETA counts the previews mflux renders, a check that needs a 15 GB
download, days of training or a trigger word is a warning to read (not a green tick), and the preset note says
exactly what the presets set."""

from __future__ import annotations

from core.training import checks as train_checks
from core.training import config as train_config
from core.training import estimates as train_estimates
from core.training.worker import StopWatch
from tests.support.images import write_mflux_dataset


def selftest_plan(workspace, *, epochs: int, preview_every: int, trigger: str = "mira"):
    write_mflux_dataset(workspace.dataset_images_dir("mira"), count=4, trigger="mira")
    plan = train_config.compose(workspace, "mira", trigger, ["selftest"])
    plan.epochs, plan.preview_every = epochs, preview_every
    return plan


def test_the_eta_counts_the_previews_rendered_at_step_0_and_every_n_steps(workspace, cache_dir):
    """The issue's run: 32 steps with previews every 8 said 15-21 s and took 163 s."""
    plan = selftest_plan(workspace, epochs=8, preview_every=8)
    plan.preview_prompts = ["mira, portrait", "mira, full body"]
    config = plan.config(workspace, cache_dir)
    assert train_estimates.preview_count(config, 32, 2) == (1 + 32 // 8) * 2  # step 0, 8, 16, 24, 32; two prompts
    assert train_estimates.preview_count(config, 32, 2, from_step=12) == 3 * 2  # a resume at 12: 16, 24, 32
    assert train_estimates.previews_left(8, 2, step=12, total=32) == 6

    measured = [28.0, 30.0, 29.0]  # seconds per preview image on this machine's earlier runs
    validation = train_checks.validate(plan, workspace, cache_dir=cache_dir, history=[0.5], preview_history=measured,
                                       use_mflux=False)
    estimate = validation.estimate
    assert estimate.iterations == 32 and estimate.preview_count == 10
    assert estimate.preview_basis == "measured on this machine"
    low, high = estimate.eta_seconds
    assert low >= 10 * 29.0 * 0.8 and high >= 10 * 29.0 * 1.2  # the previews dominate, as they did
    assert "including 10 preview image(s)" in estimate.summary()

    plan.preview_every = 0  # previews off: nothing added
    off = train_checks.validate(plan, workspace, cache_dir=cache_dir, history=[0.5], preview_history=measured,
                                use_mflux=False).estimate
    assert off.preview_count == 0 and off.eta_seconds == (0.5 * 0.85 * 32, 0.5 * 1.2 * 32)
    assert "preview" not in off.summary()


def test_without_history_a_real_preview_is_scaled_from_its_size_and_sampling_steps(workspace):
    plan = train_config.compose(workspace, "", "mira", ["memory-48gb", "goal-quick-test"])
    config = plan.config(workspace)
    small = dict(config, monitoring={**config["monitoring"], "preview_width": 256, "preview_height": 256})
    (big_low, big_high), basis = train_estimates.preview_seconds(config, "metal", plan.model)
    (small_low, _), _ = train_estimates.preview_seconds(small, "metal", plan.model)
    assert basis == "typical for an M4 Pro" and small_low < big_low < big_high
    assert big_low > 60  # 512x512, 50 sampling steps at guidance 4 is a minute or more on a Mac


def test_the_running_eta_adds_the_previews_still_to_come():
    watch = StopWatch()
    watch.seconds_per_step = 0.5
    assert watch.eta(step=10, total=32, preview_every=8, prompt_count=1) == 0.5 * 22  # no preview measured yet
    assert watch.previews_took(60.0, images=2) == 30.0
    assert watch.eta(step=10, total=32, preview_every=8, prompt_count=2) == 0.5 * 22 + 30.0 * 3 * 2
    assert watch.paused == 60.0  # the preview time is not counted as step time


def test_a_check_that_needs_a_download_or_days_is_not_a_green_tick(workspace, cache_dir, selftest_model_dir):
    write_mflux_dataset(workspace.dataset_images_dir("mira"), count=4, trigger="mira")
    real = train_config.compose(workspace, "mira", "mira", ["memory-64gb", "goal-character-likeness"])
    validation = train_checks.validate(real, workspace, cache_dir=cache_dir, backend="cpu", use_mflux=False)
    assert validation.ok and not validation.ready  # Start is allowed, but this is not "Ready to train"
    assert any("not downloaded yet" in w and "15 GB" in w for w in validation.attention)
    assert any("would take days" in w for w in validation.attention)
    assert validation.summary().startswith("Can start, but read 2 warning(s) first.")

    long_on_a_mac = train_config.compose(workspace, "mira", "mira", ["memory-64gb", "goal-high-quality"])
    long_on_a_mac.epochs = 20_000  # 80 000 steps at 6-12 s each
    validation = train_checks.validate(long_on_a_mac, workspace, cache_dir=cache_dir, backend="metal", use_mflux=False)
    assert any("This training would take about" in w for w in validation.attention)

    selftest = selftest_plan(workspace, epochs=2, preview_every=0)
    validation = train_checks.validate(selftest, workspace, cache_dir=cache_dir, backend="cpu", use_mflux=False)
    assert validation.ready and validation.summary().startswith("Ready to train.")


def test_an_empty_trigger_word_is_a_warning_to_read(workspace, cache_dir, selftest_model_dir):
    plan = selftest_plan(workspace, epochs=2, preview_every=0, trigger="")
    validation = train_checks.validate(plan, workspace, cache_dir=cache_dir, use_mflux=False)
    assert validation.ok and not validation.ready
    assert any(w.startswith("No trigger word is set") for w in validation.attention)


def test_the_preset_note_says_what_the_presets_set_and_what_a_later_one_replaced(workspace):
    write_mflux_dataset(workspace.dataset_images_dir("mira"), count=4, trigger="mira")
    names = ["memory-64gb", "selftest"]
    plan = train_config.compose(workspace, "mira", "mira", names)
    note = train_config.preset_note([train_config.get_preset(n) for n in names], plan, image_count=4)
    # The memory preset's own description says 1024 px and gradient checkpointing; the self-test preset set 64 px and
    # turned checkpointing off: the note says what the form has.
    assert "1024 px" not in note and "64 px" in note and "gradient checkpointing off" in note
    assert "its gradient checkpointing, low RAM, memory cache cap, quantization, resolution replaced" in note
    assert f"{plan.epochs} epoch(s) = {plan.epochs * 4} steps (4 images)" in note
    assert "rank 4" in note and "learning rate 0.001" in note and "previews off" in note

    goal = ["memory-16gb", "goal-character-likeness"]
    plan = train_config.compose(workspace, "", "", goal)
    note = train_config.preset_note([train_config.get_preset(n) for n in goal], plan)
    assert "75 epoch(s) = 1500 steps (20 images assumed" in note and "4-bit weights" in note and "512 px" in note


def test_measured_preview_times_come_from_runs_with_the_same_model_and_preview_shape(workspace):
    from core import storage
    from core.runs import events as run_events
    from core.runs.paths import run_paths
    from core.runs.record import RunRecord
    from core.training import runner as training

    plan = train_config.compose(workspace, "", "mira", ["selftest"])
    plan.preview_every = 4
    config = plan.config(workspace)
    for run_id, model, width, seconds in (("20260101-000001-a", "selftest", 64, 7.5), ("20260101-000002-b", "selftest", 128, 99.0),
                                          ("20260101-000003-c", "flux2-klein-base-4b", 64, 88.0)):
        paths = run_paths(workspace, run_id)
        paths.root.mkdir(parents=True)
        storage.write_json(paths.train_json, {**config, "monitoring": {**config["monitoring"], "preview_width": width}})
        paths.write_record(RunRecord(run_id=run_id, dataset="mira", model=model, status="completed"))
        run_events.emit(paths, "preview", step=0, path=f"/x/{run_id}.png", name="p", seconds=seconds)
        run_events.emit(paths, "preview", step=4, path=f"/x/{run_id}-4.png", name="p")  # an older worker: no time
    assert training.measured_preview_seconds(workspace, "selftest", config) == [7.5]


def test_a_cuda_gpu_is_not_taken_for_a_cpu(workspace, cache_dir):
    """Linux with MLX's CUDA backend: no "would take days" warning, and a band that holds the H100's measured
    0.29-0.37 s a step at 512 px, rank 16 (FACTS.md 3b/3c)."""
    write_mflux_dataset(workspace.dataset_images_dir("mira"), count=4, trigger="mira")
    plan = train_config.compose(workspace, "mira", "mira", ["memory-64gb", "goal-character-likeness"])
    plan.max_resolution, plan.rank, plan.gradient_checkpointing = 512, 16, False
    on_cuda = train_checks.validate(plan, workspace, cache_dir=cache_dir, backend="cuda", use_mflux=False)
    assert not any("would take days" in w for w in on_cuda.warnings)
    low, high = on_cuda.estimate.seconds_per_step
    assert low <= 0.29 and 0.37 <= high < 5 and "CUDA" in on_cuda.estimate.basis
    on_cpu = train_checks.validate(plan, workspace, cache_dir=cache_dir, backend="cpu", use_mflux=False)
    assert any("would take days" in w for w in on_cpu.warnings) and on_cpu.estimate.seconds_per_step[0] > 100


def test_the_cli_check_uses_the_speeds_this_machine_measured(workspace, settings, cache_dir, selftest_model_dir):
    from core.runs import events as run_events
    from core.runs.paths import run_paths
    from core.runs.record import RunRecord
    from tests.support.env import cli_env, run_cli

    write_mflux_dataset(workspace.dataset_images_dir("mira"), count=4, trigger="mira")
    paths = run_paths(workspace, "20260101-000001-earlier")
    paths.root.mkdir(parents=True)
    paths.write_record(RunRecord(run_id=paths.run_id, dataset="mira", model="selftest", status="completed", max_resolution=64))
    run_events.emit(paths, "step", step=1, total=2, loss=0.5, seconds_per_step=2.5)
    run_events.emit(paths, "step", step=2, total=2, loss=0.4, seconds_per_step=2.5)
    code, data, _ = run_cli(["train", "check", "mira", "--preset", "selftest", "--trigger", "mira"],
                            cli_env(settings.workspace, cache_dir))
    assert code == 0, data
    assert data["estimate"]["basis"] == "measured on this machine"
    low, high = data["estimate"]["seconds_per_step"]
    assert low < 2.5 < high
