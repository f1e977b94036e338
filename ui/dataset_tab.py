"""The Dataset tab: pick or create a dataset, import a messy folder, preprocess, check before training,
look through the images, remove one, edit the preview prompts. Every file operation is a core call."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from core.captions import store as captions
from core.dataset import datasets
from core.dataset import preflight
from core.dataset import preview_prompts
from core.dataset.importer import import_sources
from core.dataset.images import ASPECTS, CROPS, Preprocess
from ui.background import relay
from ui.context import UIContext
from ui.feedback import user_errors
from ui.preflight_view import preflight_html, report_rows
from ui.stopping import StopRegistry

STOPS = StopRegistry()
REPORT_HEADERS = ["file", "kind", "result", "reason / warnings"]


def _names(ctx: UIContext) -> list[str]:
    return datasets.list_names(ctx.workspace)


def _picker(ctx: UIContext, value: str | None):
    names = _names(ctx)
    if value not in names:
        value = names[0] if names else None
    return gr.update(choices=names, value=value)


def gallery_items(ctx: UIContext, name: str | None) -> list[tuple[str, str]]:
    if not name:
        return []
    dataset = datasets.open_dataset(ctx.workspace, name)
    texts = captions.read_all(dataset)
    items = []
    for item in dataset.items():
        text = texts.get(item.stem)
        label = item.stem + (" · no caption" if not text else "")
        items.append((str(item.image), label))
    return items


def build(ctx: UIContext) -> None:
    gr.Markdown("## Dataset\nImport your character's pictures, check them before training, and keep them in mflux's layout.")
    with gr.Row():
        picker = gr.Dropdown(choices=_names(ctx), value=(_names(ctx) or [None])[0], label="Dataset", elem_id="dataset-picker",
                             allow_custom_value=True, scale=3)  # datasets made by the CLI while the app runs
        new_name = gr.Textbox(label="Name (for create / rename / duplicate)", elem_id="dataset-new-name", scale=3)
        create_btn = gr.Button("Create", elem_id="dataset-create", scale=1)
        rename_btn = gr.Button("Rename", scale=1)
        duplicate_btn = gr.Button("Duplicate", scale=1)
        delete_btn = gr.Button("Delete (to trash)", variant="stop", scale=1)
    ctx.shared["dataset"] = picker
    status = gr.Markdown(elem_id="dataset-status")

    with gr.Accordion("Import pictures", open=True):
        with gr.Row():
            upload = gr.File(label="Images or a zip", file_count="multiple", elem_id="dataset-upload", scale=2)
            with gr.Column(scale=2):
                folder = gr.Textbox(label="…or a folder on this computer", placeholder="/Users/me/Pictures/mira", elem_id="dataset-folder")
                captions_folder = gr.Textbox(label="Separate captions folder (optional, paired by file name)", elem_id="dataset-captions-folder")
                with gr.Row():
                    import_btn = gr.Button("Import", variant="primary", elem_id="dataset-import")
                    stop_btn = gr.Button("Stop", elem_id="dataset-import-stop")
        import_status = gr.Markdown(elem_id="dataset-import-status")
        report = gr.Dataframe(headers=REPORT_HEADERS, value=[], interactive=False, wrap=True, elem_id="dataset-import-report",
                              label="What happened to each file")

    with gr.Accordion("Preprocessing and trigger word (remembered for this dataset)", open=False):
        with gr.Row():
            resolution = gr.Dropdown([512, 768, 1024, 1536], value=1024, label="Training resolution (long side)", allow_custom_value=True)
            crop = gr.Radio(list(CROPS), value="none", label="Crop")
            aspect = gr.Dropdown(list(ASPECTS), value="1:1", label="Crop aspect")
            background = gr.ColorPicker(value="#ffffff", label="Colour behind transparent pixels")
            trigger = gr.Textbox(label="Trigger word", elem_id="dataset-trigger")
        save_settings_btn = gr.Button("Save settings")
        gr.Markdown("The settings apply to pictures imported from now on; originals stay in `raw/`.")

    with gr.Accordion("Pre-flight check", open=True):
        with gr.Row():
            epochs = gr.Number(value=10, precision=0, label="Epochs", minimum=1)
            batch = gr.Number(value=1, precision=0, label="Batch size", minimum=1)
            check_btn = gr.Button("Check", variant="primary", elem_id="dataset-check")
        check_summary = gr.Markdown(elem_id="dataset-check-summary")
        check_table = gr.HTML(elem_id="dataset-check-table")

    with gr.Accordion("Images", open=True):
        gallery = gr.Gallery(label="Training images", columns=6, height=420, allow_preview=False, elem_id="dataset-gallery")
        selected = gr.State(None)
        with gr.Row():
            info = gr.Markdown("Click an image to see its details.", elem_id="dataset-image-info")
            remove_btn = gr.Button("Remove this image (to trash)", variant="stop", elem_id="dataset-remove-image", scale=0)

    with gr.Accordion("Preview prompts (rendered by mflux during training)", open=False):
        previews = gr.Textbox(label="One prompt per line", lines=4, elem_id="dataset-previews")
        save_previews_btn = gr.Button("Save preview prompts")

    # --- handlers ---
    def load(name):
        if not name:
            return ("No dataset yet: type a name and press Create, or import pictures.", [], 1024, "none", "1:1", "#ffffff", "", "", None,
                    "Click an image to see its details.")
        dataset = datasets.open_dataset(ctx.workspace, name)
        p = dataset.preprocess
        items = dataset.items()
        uncaptioned = sum(1 for i in items if not i.has_caption)
        text = f"**{dataset.name}**: {len(items)} image(s), {uncaptioned} without caption · `{dataset.images_dir}`"
        return (text, gallery_items(ctx, name), p.resolution, p.crop, p.aspect, p.background, dataset.trigger,
                "\n".join(preview_prompts.read(dataset.images_dir)), None, "Click an image to see its details.")

    load_outputs = [status, gallery, resolution, crop, aspect, background, trigger, previews, selected, info]
    picker.change(user_errors(load), picker, load_outputs)
    ctx.blocks.load(user_errors(lambda n: _picker(ctx, n)), picker, picker).then(user_errors(load), picker, load_outputs)

    @user_errors
    def create(name):
        dataset = datasets.create(ctx.workspace.ensure(), name)
        return _picker(ctx, dataset.name), ""

    @user_errors
    def rename(name, new):
        if not name:
            raise gr.Error("Pick a dataset first.")
        return _picker(ctx, datasets.rename(ctx.workspace, name, new).name), ""

    @user_errors
    def duplicate(name, new):
        if not name:
            raise gr.Error("Pick a dataset first.")
        return _picker(ctx, datasets.duplicate(ctx.workspace, name, new).name), ""

    @user_errors
    def delete(name):
        if not name:
            raise gr.Error("Pick a dataset first.")
        where = datasets.delete(ctx.workspace, name)
        gr.Info(f"'{name}' was moved to the trash ({where}); move it back to restore it.")
        return _picker(ctx, None)

    create_btn.click(create, new_name, [picker, new_name])
    rename_btn.click(rename, [picker, new_name], [picker, new_name])
    duplicate_btn.click(duplicate, [picker, new_name], [picker, new_name])
    delete_btn.click(delete, picker, picker)

    @user_errors
    def run_import(name, files, folder_path, captions_path):
        sources = [Path(f) for f in (files or [])]
        if folder_path and folder_path.strip():
            sources.append(Path(folder_path.strip()).expanduser())
        if not sources:
            raise gr.Error("Choose pictures to upload or type a folder path first.")
        if not name:
            raise gr.Error("Create or pick a dataset first (type a name and press Create).")
        caps = Path(captions_path.strip()).expanduser() if captions_path and captions_path.strip() else None
        rows: list[list[str]] = []
        with STOPS.job("import") as cancel:
            for event in relay(lambda: import_sources(ctx.workspace, name, sources, captions_dir=caps, cancel=cancel)):
                if event.result is not None:
                    final = event.result
                    yield f"✅ {final.summary()}", report_rows(final), gallery_items(ctx, name), None
                    return
                if "outcome" in event.payload:
                    o = event.payload["outcome"]
                    rows.append([Path(o["source"]).name, o["kind"], "accepted" if o["accepted"] else "rejected",
                                 "; ".join([o["reason"]] + o["warnings"])])
                bar = f" ({event.step}/{event.total})" if event.total else ""
                yield f"⏳ {event.message}{bar}", rows, gr.skip(), gr.skip()

    import_btn.click(run_import, [picker, upload, folder, captions_folder], [import_status, report, gallery, upload],
                     concurrency_id="dataset-io", concurrency_limit=1).then(user_errors(load), picker, load_outputs)
    stop_btn.click(lambda: STOPS.stop("import"), None, None)

    @user_errors
    def save_settings(name, res, crop_, aspect_, colour, trig):
        if not name:
            raise gr.Error("Pick a dataset first.")
        dataset = datasets.open_dataset(ctx.workspace, name)
        dataset.save_settings(preprocess=Preprocess(resolution=int(res), crop=crop_, aspect=aspect_, background=colour or "#ffffff"),
                              trigger=trig or "")
        gr.Info("Settings saved for this dataset.")

    save_settings_btn.click(save_settings, [picker, resolution, crop, aspect, background, trigger], None)

    @user_errors
    def check(name, trig, res, ep, bs):
        if not name:
            raise gr.Error("Pick a dataset first.")
        result = preflight.check(ctx.workspace, name, trigger=trig, resolution=int(res), epochs=int(ep or 0) or None, batch_size=int(bs or 1))
        icon = "✅" if result.ready else "⛔"
        return f"{icon} {result.summary()}", preflight_html(result)

    check_btn.click(check, [picker, trigger, resolution, epochs, batch], [check_summary, check_table], api_name="dataset_check")

    @user_errors
    def select(name, event: gr.SelectData):
        stems = [item.stem for item in datasets.open_dataset(ctx.workspace, name).items()]
        if event.index is None or event.index >= len(stems):
            return None, "Click an image to see its details."
        stem = stems[event.index]
        d = datasets.describe(datasets.open_dataset(ctx.workspace, name), stem)
        caption = d["caption"] if d["caption"] is not None else "(caption file is not UTF-8; left unchanged)"
        text = (f"**{stem}** · {d['width']}x{d['height']} · {d['bytes'] / 1024:.0f} KB · {d['versions']} caption version(s)\n\n"
                f"> {caption or '(no caption yet)'}")
        return stem, text

    gallery.select(select, picker, [selected, info])

    @user_errors
    def remove(name, stem):
        if not stem:
            raise gr.Error("Click an image in the gallery first.")
        where = datasets.remove_image(ctx.workspace, name, stem)
        gr.Info(f"{stem} and its caption were moved to {where}.")
        return gallery_items(ctx, name), None, f"Removed {stem} (recoverable from the trash)."

    remove_btn.click(remove, [picker, selected], [gallery, selected, info], concurrency_id="dataset-io")

    @user_errors
    def save_previews(name, text):
        if not name:
            raise gr.Error("Pick a dataset first.")
        dataset = datasets.open_dataset(ctx.workspace, name)
        written = preview_prompts.write(dataset.images_dir, (text or "").splitlines(), ctx.workspace.trash_dir)
        gr.Info(f"{len(written)} preview prompt(s) saved.")

    save_previews_btn.click(save_previews, [picker, previews], None)
