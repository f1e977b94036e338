"""`python -m core dataset ...` and `captions ...` with --json, as a person's script would call them."""

from tests.support.env import cli_env, run_cli
from core.selftest.tiny_florence import build_tiny_florence
from tests.support.images import photo_image


def test_import_check_and_edit_captions_from_the_cli(tmp_path, workspace_dir, cache_dir):
    env = cli_env(workspace_dir, cache_dir)
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        photo_image((700, 500), seed=i).save(folder / f"p{i}.jpg")
        (folder / f"p{i}.txt").write_text(f"a girl in a red dress, pose {i}", encoding="utf-8")
    (folder / "broken.png").write_text("nope")
    code, data, err = run_cli(["dataset", "import", "mira", str(folder), "--resolution", "512"], env)
    assert code == 0, err
    by_name = {f["source"].rsplit("/", 1)[-1]: f for f in data["files"]}
    assert by_name["p0.jpg"]["accepted"] and by_name["p0.jpg"]["reason"] == "imported"
    assert by_name["broken.png"]["accepted"] is False and "not an image" in by_name["broken.png"]["reason"]
    assert data["accepted_count"] == 3 and data["rejected_count"] == 1

    code, data, _ = run_cli(["dataset", "list"], env)
    assert data["datasets"] == [{"name": "mira", "images": 3, "captioned": 3, "trigger": "", "images_dir": data["datasets"][0]["images_dir"]}]

    code, data, _ = run_cli(["dataset", "check", "mira", "--trigger", "mira", "--epochs", "4"], env)
    assert code == 0 and data["ready"] is True and data["iterations"] == 12
    assert sum(w["code"] == "no_trigger" for w in data["warnings"]) == 3

    code, data, _ = run_cli(["captions", "replace", "mira", "red dress", "blue coat"], env)
    assert code == 0 and data["applied"] is False and len(data["changes"]) == 3
    code, data, _ = run_cli(["captions", "replace", "mira", "red dress", "blue coat", "--apply"], env)
    assert sorted(data["changed"]) == ["p0", "p1", "p2"]
    code, data, _ = run_cli(["captions", "trigger", "mira", "mira", "--apply"], env)
    code, data, _ = run_cli(["captions", "show", "mira", "p0"], env)
    assert data["captions"] == {"p0": "mira, a girl in a blue coat, pose 0"}
    run_cli(["captions", "undo", "mira"], env)
    run_cli(["captions", "undo", "mira"], env)
    code, data, _ = run_cli(["captions", "show", "mira"], env)
    assert data["captions"]["p1"] == "a girl in a red dress, pose 1"

    code, data, _ = run_cli(["dataset", "remove-image", "mira", "p2"], env)
    assert code == 0 and data["trash"]
    code, data, _ = run_cli(["dataset", "check", "mira"], env)
    assert data["image_count"] == 2

    code, data, _ = run_cli(["dataset", "check", "nobody"], env)
    assert code == 1 and "There is no dataset named 'nobody'" in data["error"]


def test_auto_captions_from_the_cli(tmp_path, workspace_dir, cache_dir):
    env = cli_env(workspace_dir, cache_dir)
    model = build_tiny_florence(tmp_path / "florence")
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        photo_image((128, 96), seed=i).save(folder / f"p{i}.png")
    run_cli(["dataset", "create", "mira", "--trigger", "mira"], env)
    run_cli(["dataset", "import", "mira", str(folder)], env)
    code, data, err = run_cli(["captions", "auto", "mira", "--model", str(model), "--max-new-tokens", "6", "--beams", "1"], env)
    assert code == 0, err
    assert data["captioned"] == ["p0", "p1"] and data["device"] == "cpu"
    code, data, _ = run_cli(["captions", "show", "mira"], env)
    assert all(text.startswith("mira") for text in data["captions"].values())
