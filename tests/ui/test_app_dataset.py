"""The Dataset and Caption Editor handlers through gradio_client against the launched app."""

from core.captions import store as captions
from core.dataset import datasets
from core.workspace import Workspace
from tests.support.images import photo_image


def test_pre_flight_check_and_caption_save_through_the_api(app_url, app_workspace):
    from gradio_client import Client

    workspace = Workspace(app_workspace).ensure()
    dataset = datasets.create(workspace, "api-check", trigger="mira")
    for i in range(6):
        photo_image((1024, 768), seed=80 + i).save(dataset.images_dir / f"img{i}.png")
        captions.save(dataset, f"img{i}", f"mira, a character in a park, pose {i}")
    client = Client(app_url, verbose=False)
    summary, table = client.predict("api-check", "mira", 1024, 5, 2, api_name="/dataset_check")
    assert summary.endswith("Ready to train: 6 image(s), 0 error(s), 0 warning(s); 15 training iteration(s) with these settings.")
    assert table.count('data-level="ok"') == 6

    (dataset.images_dir / "img0.txt").write_text("", encoding="utf-8")
    summary, table = client.predict("api-check", "mira", 1024, 5, 2, api_name="/dataset_check")
    assert "Not ready to train" in summary
    assert "The caption of img0.png is empty" in table and table.count('data-level="error"') == 1

    try:
        client.predict("missing-dataset", "", 1024, 5, 1, api_name="/dataset_check")
    except Exception as error:  # the page shows the one-sentence AppError
        assert "There is no dataset named 'missing-dataset'" in str(error)
    else:
        raise AssertionError("checking a missing dataset must fail")
