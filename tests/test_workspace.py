import json

import pytest

from core import storage
from core.errors import InvalidName, NotFound
from core.workspace import Workspace, check_name


@pytest.mark.parametrize("name", ["mira", "Mira v2", "미라_캐릭터", "set-01 (final)", "a.b"])
def test_good_names_pass(name):
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name, says",
    [
        ("../etc", "'..'"),
        ("a/b", "'/'"),
        ("/abs/path", "'/'"),
        ("a\\b", "'\\'"),
        (".hidden", "starts with '.'"),
        ("bad\x00name", "control character"),
        ("bad\nname", "control character"),
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 81, "limit is 80"),
        ("star*", "'*'"),
        ("CON", "reserved"),
    ],
)
def test_bad_names_get_a_clear_sentence(name, says):
    with pytest.raises(InvalidName) as info:
        check_name(name, "dataset")
    assert says in str(info.value)
    assert str(info.value).endswith(".")


def test_dataset_and_run_paths_stay_inside_the_workspace(tmp_path):
    ws = Workspace(tmp_path).ensure()
    assert ws.dataset_dir("mira") == tmp_path / "datasets" / "mira"
    assert ws.run_dir("20260101-000000-mira") == tmp_path / "outputs" / "runs" / "20260101-000000-mira"
    with pytest.raises(InvalidName):
        ws.dataset_dir("../../outside")
    with pytest.raises(InvalidName):
        ws.run_dir("../x")


def test_missing_dataset_names_the_existing_ones(tmp_path):
    ws = Workspace(tmp_path).ensure()
    (ws.datasets_dir / "mira").mkdir()
    with pytest.raises(NotFound, match="Existing datasets: mira"):
        ws.dataset_dir("nara", must_exist=True)
    assert ws.list_datasets() == ["mira"]


def test_run_ids_are_unique_and_sortable(tmp_path):
    ws = Workspace(tmp_path).ensure()
    first = ws.new_run_id("미라 set", now=0)
    ws.run_dir(first).mkdir(parents=True)
    second = ws.new_run_id("미라 set", now=0)
    assert first != second and second.startswith(first)
    check_name(first, "run")
    assert ws.list_runs() == [first]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "caption.json"
    storage.write_json(target, {"v": 1})

    class Unprintable:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        storage.write_json(target, {"v": Unprintable()})
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["caption.json"]


def test_trash_keeps_deleted_things_recoverable(tmp_path):
    ws = Workspace(tmp_path).ensure()
    folder = ws.datasets_dir / "old"
    folder.mkdir()
    (folder / "a.txt").write_text("keep me")
    moved = storage.move_to_trash(folder, ws.trash_dir)
    assert not folder.exists()
    assert (moved / "a.txt").read_text() == "keep me"
    again = ws.datasets_dir / "old"
    again.mkdir()
    moved_again = storage.move_to_trash(again, ws.trash_dir)
    assert moved_again != moved and moved.exists()


def test_read_json_tolerates_missing_and_broken_files(tmp_path):
    assert storage.read_json(tmp_path / "nope.json", default={}) == {}
    (tmp_path / "bad.json").write_text("{not json")
    assert storage.read_json(tmp_path / "bad.json", default=[]) == []
