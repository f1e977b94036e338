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
