import pytest

from core.dataset import preview_prompts


def test_prompts_round_trip_and_old_files_stay_recoverable(workspace):
    images = workspace.dataset_dir("mira") / "images"
    images.mkdir(parents=True)
    (images / "preview.txt").write_text("mira waving, 미라")
    assert preview_prompts.read(images) == ["mira waving, 미라"]
    written = preview_prompts.write(images, ["mira running", "  ", "mira sitting"], workspace.trash_dir)
    assert [p.name for p in written] == ["preview_01.txt", "preview_02.txt"]
    assert preview_prompts.read(images) == ["mira running", "mira sitting"]
    trashed = list(workspace.trash_dir.rglob("preview.txt"))
    assert len(trashed) == 1 and trashed[0].read_text() == "mira waving, 미라"


def test_unchanged_prompts_write_nothing(workspace):
    images = workspace.dataset_dir("mira") / "images"
    images.mkdir(parents=True)
    preview_prompts.write(images, ["a", "b"], workspace.trash_dir)
    preview_prompts.write(images, ["a", "b"], workspace.trash_dir)
    assert not any(workspace.trash_dir.rglob("*.txt"))


def test_test_prompts_in_every_file_format_with_the_trigger_filled_or_kept(tmp_path):
    from core.errors import AppError
    from core.storage import write_json

    for content in (["a {trigger}"], {"prompts": ["a {trigger}"]}, [{"prompt": "a {trigger}"}]):
        write_json(tmp_path / "p.json", content)
        assert preview_prompts.load_test_prompts(tmp_path / "p.json") == ["a {trigger}"]
        assert preview_prompts.load_test_prompts(tmp_path / "p.json", "mira") == ["a mira"]
    (tmp_path / "p.txt").write_text("{trigger}, on a boat\n\n  {trigger} in snow  \n")
    assert preview_prompts.load_test_prompts(tmp_path / "p.txt", "kim") == ["kim, on a boat", "kim in snow"]
    assert preview_prompts.load_test_prompts(tmp_path / "p.txt", "") == ["on a boat", "in snow"]
    shipped = preview_prompts.load_test_prompts()
    assert len(shipped) >= 2 and all("{trigger}" in p for p in shipped)
    assert preview_prompts.with_trigger("{trigger}, a portrait", "mira") == "mira, a portrait"
    assert preview_prompts.with_trigger("{trigger}, a portrait", None) == "a portrait"
    (tmp_path / "bad.json").write_text("[not json")
    for broken, said in ((tmp_path / "bad.json", "not valid JSON"), (tmp_path / "missing.json", "cannot be read"),
                         (tmp_path / "empty.txt", "No prompts")):
        if broken.name == "empty.txt":
            broken.write_text("\n \n")
        with pytest.raises(AppError, match=said):
            preview_prompts.load_test_prompts(broken)
