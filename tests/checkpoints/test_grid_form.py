"""The comparison grid's fields read into a GridSpec (core.checkpoints.grid_form), and which row may be chosen."""

import pytest

from core.checkpoints import grid_form
from core.checkpoints.compare import BASE_ROW
from core.errors import AppError, NotFound
from core.runs.paths import run_paths
from core.runs.record import RunRecord


@pytest.fixture()
def run_id(workspace):
    paths = run_paths(workspace, "20261127-010000-mira")
    paths.write_record(RunRecord(run_id=paths.run_id, dataset="mira", model="selftest", trigger="m1ra"))
    return paths.run_id


def test_the_fields_become_a_spec_with_the_trigger_filled_in(workspace, run_id):
    spec = grid_form.grid_spec(workspace, run_id, "{trigger}, portrait\n\n  {trigger} walking,  \n", "1.0; 1.5,2",
                               " 1, 7 ", model="", size=" 512 X 768 ", sample_steps=0, guidance=0)
    assert spec.run_id == run_id and spec.prompts == ["m1ra, portrait", "m1ra walking"]
    assert spec.strengths == [1.0, 1.5, 2.0] and spec.seeds == [1, 7]
    assert (spec.width, spec.height) == (512, 768)
    assert spec.model is None and spec.sample_steps is None and spec.guidance is None  # the model's own
    spec = grid_form.grid_spec(workspace, run_id, "a", "1", "3", model="selftest", size="64x64", sample_steps=2.0,
                               guidance=3.5)
    assert spec.model == "selftest" and spec.sample_steps == 2 and spec.guidance == 3.5


@pytest.mark.parametrize("fields, message", [
    (dict(prompts=" \n "), "There are no prompts"),
    (dict(strengths="1.0, strong"), "The strengths '1.0, strong' are not numbers"),
    (dict(seeds=" , "), "No seeds given"),
    (dict(size="1024"), "The size '1024' is not WIDTHxHEIGHT"),
    (dict(size="axb"), "The size 'axb' is not WIDTHxHEIGHT"),
])
def test_fields_a_person_mistyped_say_what_to_fix(workspace, run_id, fields, message):
    values = dict(prompts="{trigger}", strengths="1.0", seeds="1", size="64x64") | fields
    with pytest.raises(AppError, match=message):
        grid_form.grid_spec(workspace, run_id, values["prompts"], values["strengths"], values["seeds"], size=values["size"])


def test_a_missing_run_is_refused(workspace):
    with pytest.raises(NotFound):
        grid_form.grid_spec(workspace, "20990101-000000-none", "a", "1", "1")


@pytest.mark.slow
def test_the_base_row_cannot_be_chosen_and_a_checkpoint_row_can(run_copy, workspace):
    with pytest.raises(AppError, match="base model, which has no LoRA to publish"):
        grid_form.choose_row(workspace, run_copy.run_id, BASE_ROW, 1.0)
    assert not run_copy.chosen_json.exists()
    chosen = grid_form.choose_row(workspace, run_copy.run_id, "2", 1.5)
    assert chosen.step == 2 and chosen.strength == 1.5 and chosen.adapter_path.is_file()
