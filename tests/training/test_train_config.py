"""Training config: presets, form <-> train.json, plain-word validation, the ai-toolkit import."""

from __future__ import annotations

import json

import pytest

from core.training import aitoolkit as aitoolkit_import
from core.training import checks as train_checks
from core.training import config as train_config
from tests.support.images import write_mflux_dataset

AITOOLKIT_YAML = """\
---
job: extension
config:
  name: "mira_flux_lora_v1"
  process:
    - type: 'sd_trainer'
      training_folder: "output"
      device: cuda:0
      trigger_word: "m1ra"
      network:
        type: "lora"
        linear: 32
        linear_alpha: 16
      save:
        dtype: float16
        save_every: 200
        max_step_saves_to_keep: 4
        push_to_hub: false
      datasets:
        - folder_path: "/home/me/ai-toolkit/datasets/mira"
          caption_ext: "txt"
          caption_dropout_rate: 0.05
          num_repeats: 3
          shuffle_tokens: false
          cache_latents_to_disk: true
          resolution: [ 512, 768, 1024 ]
      train:
        batch_size: 1
        steps: 2000
        gradient_accumulation_steps: 1
        train_unet: true
        train_text_encoder: false
        gradient_checkpointing: true
        noise_scheduler: "flowmatch"
        optimizer: "adamw8bit"
        lr: 4e-4
        linear_timesteps: true
        ema_config:
          use_ema: true
          ema_decay: 0.99
        dtype: bf16
      model:
        name_or_path: "black-forest-labs/FLUX.1-dev"
        is_flux: true
        quantize: true
      sample:
        sampler: "flowmatch"
        sample_every: 200
        width: 768
        height: 1024
        prompts:
          - "[trigger] walking in a rainy Seoul alley at night, cinematic"
          - "[trigger] smiling, close-up portrait"
        neg: ""
        seed: 7
        walk_seed: true
        guidance_scale: 4
        sample_steps: 20
meta:
  name: "[name]"
  version: '1.0'
"""


@pytest.fixture()
def ready(workspace, selftest_model_dir, cache_dir):
    write_mflux_dataset(workspace.dataset_images_dir("mira"), count=4, trigger="mira")
    return train_config.compose(workspace, "mira", "mira", ["selftest"])


@pytest.mark.parametrize("memory, expected", [(8, "memory-16gb"), (16, "memory-16gb"), (24, "memory-24gb"), (36, "memory-36gb"),
                                              (48, "memory-48gb"), (64, "memory-64gb"), (192, "memory-64gb")])
def test_the_machine_memory_picks_the_memory_preset(memory, expected):
    assert train_config.memory_preset_for(memory).name == expected


def test_compose_applies_memory_then_goal(workspace):
    write_mflux_dataset(workspace.dataset_images_dir("mira"), count=10)
    plan = train_config.compose(workspace, "mira", "mira", ["goal-high-quality"], memory_gb=24)
    assert (plan.quantize, plan.low_ram, plan.max_resolution, plan.gradient_checkpointing) == (8, True, 768, True)
    assert (plan.rank, plan.learning_rate, plan.layers) == (32, 5e-05, "all")
    assert plan.epochs == 300  # 3000 steps over 10 images
    config = plan.config(workspace)
    assert config["optimizer"]["lr_schedule"] == "cosine" and config["quantize"] == 8
    assert train_config.iterations(config, 10) == 3000
    assert len(config["lora_layers"]["targets"]) == 14
    assert {t["blocks"]["end"] for t in config["lora_layers"]["targets"]} == {5, 20}


def test_form_and_raw_json_round_trip(workspace, cache_dir):
    plan = train_config.compose(workspace, "", "mira", ["goal-quick-test"], memory_gb=48)
    plan.rank, plan.save_every, plan.preview_every, plan.seed = 12, 50, 0, 3
    config = plan.config(workspace, cache_dir)
    assert "monitoring" not in config  # previews off
    text = train_config.to_json(config).replace('"seed": 3', '"seed": 9')
    back = train_config.TrainPlan.from_config(train_config.parse_json(text), "", "mira")
    assert (back.rank, back.save_every, back.preview_every, back.seed, back.layers) == (12, 50, 0, 9, "attention")
    assert back.raw["seed"] == 9 and back.config() == {**config, "seed": 9}  # nothing else of the raw JSON is lost
    with pytest.raises(train_config.ConfigError, match="line 2"):
        train_config.parse_json('{\n "seed": 1,,\n}')


def test_saved_preset_round_trips(workspace, cache_dir):
    plan = train_config.compose(workspace, "", "", ["selftest"])
    plan.rank = 6
    train_config.save_preset(workspace, "my tiny", plan)
    saved = train_config.get_preset("my tiny", workspace)
    assert saved.kind == "saved"
    loaded = train_config.apply_preset(train_config.TrainPlan(raw=train_config.default_config()), saved)
    assert loaded.rank == 6 and loaded.model == "selftest"


def test_a_ready_selftest_config_passes_mflux_dry_run(ready, workspace, cache_dir):
    validation = train_checks.validate(ready, workspace, cache_dir=cache_dir)
    assert validation.ok, validation.errors
    assert validation.images == 4 and validation.estimate.iterations == 4


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(model="flux2-klein-base-4bb"), "did you mean 'flux2-klein-base-4b'"),
    (lambda c: c["optimizer"].update(name="adamw8bit"), "Optimizer 'adamw8bit' is not one mflux has; did you mean 'AdamW'"),
    (lambda c: c["optimizer"].update(lr=1e-4), "'lr' in optimizer is not a setting mflux knows; did you mean 'learning_rate'"),
    (lambda c: c["training_loop"].update(timestep_high=40), "timestep_high (40) cannot be more than steps (4)"),
    (lambda c: c["lora_layers"]["targets"][0].update(module_path="transformer_blocks.{block}.attn.q_proj"), "is not a layer of FLUX.2 klein"),
    (lambda c: c["lora_layers"]["targets"][-1]["blocks"].update(end=20), "this model has 2 single-stream blocks (use end 2)"),
    (lambda c: c.update(model_path="/nowhere/klein"), "The model folder '/nowhere/klein' does not exist"),
    (lambda c: c.update(quantize=7), "quantize must be empty (null) or one of 3, 4, 5, 6, 8"),
    (lambda c: c["checkpoint"].update(save_frequency=0), "save_frequency (save every N steps) must be a whole number of at least 1"),
    (lambda c: c.pop("lora_layers"), "'lora_layers' is missing"),
])
def test_config_problems_are_said_in_plain_words(ready, workspace, cache_dir, change, message):
    config = json.loads(json.dumps(ready.config(workspace, cache_dir)))
    change(config)  # the train.json as a person may have typed it in the raw editor
    errors, _ = train_checks.check_structure(config, ready.model)
    assert any(message in error for error in errors), errors
    assert all("Traceback" not in error for error in errors)


def test_missing_caption_and_trigger(ready, workspace, cache_dir):
    images = workspace.dataset_images_dir("mira")
    (images / "img_01.txt").unlink()
    (images / "img_02.txt").write_text("a character without the word")
    validation = train_checks.validate(ready, workspace, cache_dir=cache_dir)
    assert any("img_01.png has no caption" in e for e in validation.errors)  # the Dataset tab's pre-flight, word for word
    assert any("img_02.png does not contain the trigger 'mira'" in w for w in validation.warnings)
    (images / "img_03.txt").unlink()
    validation = train_checks.validate(ready, workspace, cache_dir=cache_dir)
    assert any("img_01.png has no caption" in e and "(and 1 more like it)" in e for e in validation.errors)


def test_memory_preset_too_big_for_the_machine_warns(workspace):
    write_mflux_dataset(workspace.dataset_images_dir("mira"), count=4)
    plan = train_config.compose(workspace, "mira", "mira", ["memory-64gb", "goal-quick-test"])
    validation = train_checks.validate(plan, workspace, memory_gb=24, backend="metal", use_mflux=False)
    assert any("need about 32 GB; this machine has 24 GB" in w and "'24 GB Mac'" in w for w in validation.warnings)
    assert validation.estimate.iterations == 300 and validation.estimate.basis == "typical for an M4 Pro"


def test_aitoolkit_yaml_import_reports_what_carried_adapted_and_missing():
    plan = train_config.TrainPlan(dataset="mira", raw=train_config.default_config())
    imported = aitoolkit_import.import_yaml(AITOOLKIT_YAML, plan, image_count=25)
    f = imported.plan
    assert (f.trigger, f.rank, f.save_every, f.preview_every, f.learning_rate, f.max_resolution) == ("m1ra", 32, 200, 200, 4e-4, 1024)
    # 25 pictures x 3 resolutions + 4 trigger-only copies (caption_dropout_rate 0.05) = 79 samples an epoch
    assert f.resolutions == [512, 768, 1024] and f.trigger_only == 0.05
    assert f.epochs == 26 and f.quantize == 8 and f.model == "flux2-klein-base-4b"
    assert f.preview_prompts[0] == "m1ra walking in a rainy Seoul alley at night, cinematic"
    assert f.raw["optimizer"]["name"] == "AdamW"
    assert f.raw["monitoring"]["preview_width"] == 768 and f.raw["steps"] == 20
    assert f.config() == f.raw  # the imported plan and its raw train.json agree
    assert "trigger word 'm1ra'" in imported.carried and "rank 32 (network.linear)" in imported.carried
    adapted = " | ".join(imported.adapted)
    assert "2000 steps -> 26 epochs" in adapted and "adamw8bit -> AdamW" in adapted and "FLUX.1-dev -> FLUX.2 klein" in adapted
    assert "caption_dropout_rate 0.05 -> trigger-only share 5%" in adapted and "captioned with 'm1ra' alone" in adapted
    assert "num_repeats 3" in adapted and "dataset repeat" in adapted
    assert "resolutions 512, 768, 1024 (each picture trained at each" in " | ".join(imported.carried)
    missing = " | ".join(imported.missing)
    assert "EMA" in missing and "import it in the Dataset tab" in missing
    assert "caption_dropout_rate" not in missing and "num_repeats" not in missing and "resolution" not in missing
    assert "**Carried over**" in imported.report_markdown()


def test_aitoolkit_import_refuses_other_yaml():
    with pytest.raises(aitoolkit_import.AiToolkitImportError, match="not an ai-toolkit training config"):
        aitoolkit_import.import_yaml("model: sdxl\nsteps: 10\n", train_config.TrainPlan())
