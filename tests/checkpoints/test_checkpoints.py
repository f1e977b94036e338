"""Checkpoints of a real self-test run: listing, safe zip reading, export, choosing."""

import json
import zipfile

import pytest

from core.models import adapters
from core.checkpoints import store as checkpoints
from core.checkpoints.store import CheckpointError
from core.errors import AppError, NotFound


@pytest.mark.slow
def test_lists_every_checkpoint_with_loss_and_previews(run_copy):
    found = checkpoints.list_checkpoints(run_copy)
    assert [c.step for c in found] == [0, 1, 2, 3]
    assert found[0].loss is None  # step 0 is the untrained start
    assert all(isinstance(c.loss, float) and c.loss > 0 for c in found[1:])
    assert [len(c.previews) for c in found] == [1, 0, 0, 1]
    assert all(c.size_bytes > 0 and c.time > 0 for c in found)


@pytest.mark.slow
def test_loss_from_the_training_events_wins_over_the_zip(run_copy):
    run_copy.events.write_text(json.dumps({"type": "step", "step": 2, "loss": 0.125}) + "\n")
    by_step = {c.step: c.loss for c in checkpoints.list_checkpoints(run_copy)}
    assert by_step[2] == 0.125 and by_step[1] not in (None, 0.125)


@pytest.mark.slow
def test_export_renames_to_diffusers_and_records_metadata(run_copy):
    exported = checkpoints.export_adapter(run_copy, 2)
    tensors, metadata = adapters.read_tensors(exported.path)
    assert "transformer.transformer_blocks.0.attn.to_out.0.lora_A.weight" in tensors
    assert not any(k.startswith("transformer.transformer_blocks.0.attn.to_out.lora_") for k in tensors)
    assert "transformer.single_transformer_blocks.1.attn.to_out.lora_B.weight" in tensors
    assert all(k.startswith("transformer.") for k in tensors) and len(tensors) == 2 * 16
    assert metadata["trigger_word"] == "mira" and metadata["rank"] == "4" and metadata["training_step"] == "2"
    assert metadata["mflux_version"] == "0.24.0" and metadata["base_model_key"] == "selftest"
    assert exported.sha256 == adapters.sha256(exported.path)
    again = checkpoints.export_adapter(run_copy, 2)
    assert again.sha256 == exported.sha256  # same checkpoint, same bytes
    assert checkpoints.export_adapter(run_copy, 3).sha256 != exported.sha256
    report = adapters.validate(exported.path)
    assert report.ok and report.naming == "diffusers" and report.layers == 16 and report.geometry.endswith("(self-test geometry)")


@pytest.mark.slow
def test_validation_reports_what_the_mflux_original_holds(run_copy):
    step, zip_path = checkpoints.checkpoint_zip(run_copy, 1)
    tensors, metadata = checkpoints.read_adapter_tensors(zip_path, step)
    report = adapters.inspect_tensors(tensors, metadata)
    assert report.ok, report.problems
    assert report.naming == "mflux" and report.rank == 4 and report.dtype == "float32"
    assert report.double_blocks == [0] and report.single_blocks == [0, 1]
    assert "32 of 32 keys match" in report.summary()


@pytest.mark.slow
def test_choose_writes_the_record_and_keeps_the_previous_choice(run_copy, workspace):
    first = checkpoints.choose(workspace, run_copy.run_id, 2, 1.5)
    second = checkpoints.choose(workspace, run_copy.run_id, 3, 1.0)
    read = checkpoints.read_chosen(run_copy)
    assert read.step == 3 and read.strength == 1.0 and read.trigger == "mira"
    assert read.adapter_path.is_file() and read.sha256 == adapters.sha256(read.adapter_path) == second.sha256
    history = json.loads(run_copy.chosen_json.read_text())["history"]
    assert history[-1]["step"] == 2 and history[-1]["sha256"] == first.sha256
    with pytest.raises(AppError, match="outside 0-4"):
        checkpoints.choose(workspace, run_copy.run_id, 2, 0)
    with pytest.raises(NotFound, match="no checkpoint at step 9"):
        checkpoints.choose(workspace, run_copy.run_id, 9, 1.0)


@pytest.mark.slow
def test_a_zip_with_a_foreign_member_is_refused_before_anything_is_read(run_copy, tmp_path):
    step, original = checkpoints.checkpoint_zip(run_copy, 1)
    bad = run_copy.checkpoints_dir / "0000005_checkpoint.zip"
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(bad, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename.replace("0000001", "0000005"), source.read(info))
        target.writestr("../../evil.pkl", b"cos\nsystem\n")
    with pytest.raises(CheckpointError, match=r"contains '../../evil.pkl'"):
        checkpoints.export_adapter(run_copy, 5)
    assert not (run_copy.root.parent / "evil.pkl").exists()


@pytest.mark.slow
def test_a_corrupt_zip_and_a_truncated_adapter_say_so(run_copy):
    (run_copy.checkpoints_dir / "0000007_checkpoint.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(CheckpointError, match="is not a readable zip"):
        checkpoints.export_adapter(run_copy, 7)
    exported = checkpoints.export_adapter(run_copy, 1)
    cut = exported.path.with_name("cut.safetensors")
    cut.write_bytes(exported.path.read_bytes()[:-500])
    with pytest.raises(adapters.AdapterError, match="not a complete safetensors file"):
        adapters.validate(cut)


def test_adapters_for_other_models_are_refused_with_a_count(tmp_path):
    import numpy as np
    from safetensors.numpy import save_file

    sdxl = tmp_path / "sdxl.safetensors"
    save_file({f"lora_unet_down_blocks_0_attentions_0_proj_in.lora_{p}.weight": np.zeros((4, 4), np.float32) for p in ("up", "down")}, str(sdxl))
    with pytest.raises(adapters.AdapterError, match="0 of 2 keys match FLUX.2 klein"):
        adapters.validate(sdxl)
    flux1 = tmp_path / "flux1.safetensors"
    save_file({
        "transformer.transformer_blocks.0.attn.to_q.lora_A.weight": np.zeros((4, 3072), np.float32),
        "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": np.zeros((3072, 4), np.float32),
        "transformer.single_transformer_blocks.0.proj_mlp.lora_A.weight": np.zeros((4, 3072), np.float32),
        "transformer.single_transformer_blocks.0.proj_mlp.lora_B.weight": np.zeros((12288, 4), np.float32),
    }, str(flux1))
    report = adapters.inspect(flux1)
    assert not report.ok and report.matched_keys == 2 and "2 of 4 keys match FLUX.2 klein 4B" in report.problems[0]
    nan = tmp_path / "nan.safetensors"
    save_file({
        "transformer.transformer_blocks.0.attn.to_q.lora_A.weight": np.full((4, 3072), np.nan, np.float32),
        "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": np.zeros((3072, 4), np.float32),
    }, str(nan))
    with pytest.raises(adapters.AdapterError, match="NaN"):
        adapters.validate(nan)
