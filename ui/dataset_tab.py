"""The Dataset tab: pick or create a dataset, import a messy folder, preprocess, check before training,
look through the images, remove one, edit the preview prompts. Every file operation is a core call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from core.captions import store as captions
from core.dataset import datasets, preflight, preview_prompts
from core.dataset.importer import import_sources
from core.dataset.images import ASPECTS, CROPS, Preprocess
from ui.context import follow, UIContext
from ui.feedback import user_errors
from ui.long_job import long_job, LongJob
from ui.preflight_view import preflight_html, report_rows

IMPORT = LongJob("import")
REPORT_HEADERS = ["file", "kind", "result", "reason / warnings"]
NO_IMAGE = "Click an image to see its details."


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


@dataclass
class Widgets:
    picker: gr.Dropdown
    new_name: gr.Textbox
    create_btn: gr.Button
    rename_btn: gr.Button
    duplicate_btn: gr.Button
    delete_btn: gr.Button
    status: gr.Markdown
    upload: gr.File
    folder: gr.Textbox
    captions_folder: gr.Textbox
    import_btn: gr.Button
    stop_btn: gr.Button
    import_status: gr.Markdown
    report: gr.Dataframe
    resolution: gr.Dropdown
    crop: gr.Radio
    aspect: gr.Dropdown
    background: gr.ColorPicker
    trigger: gr.Textbox
    save_settings_btn: gr.Button
    epochs: gr.Number
    batch: gr.Number
    check_btn: gr.Button
    check_summary: gr.Markdown
    check_table: gr.HTML
    gallery: gr.Gallery
    selected: gr.State
    info: gr.Markdown
    remove_btn: gr.Button
    previews: gr.Textbox
    save_previews_btn: gr.Button

    @property
    def loaded(self) -> list:
        """What picking a dataset fills in."""
        return [self.status, self.gallery, self.resolution, self.crop, self.aspect, self.background, self.trigger,
                self.previews, self.selected, self.info]


def layout(ctx: UIContext) -> Widgets:
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
            info = gr.Markdown(NO_IMAGE, elem_id="dataset-image-info")
            remove_btn = gr.Button("Remove this image (to trash)", variant="stop", elem_id="dataset-remove-image", scale=0)

    with gr.Accordion("Preview prompts (rendered by mflux during training)", open=False):
        previews = gr.Textbox(label="One prompt per line", lines=4, elem_id="dataset-previews")
        save_previews_btn = gr.Button("Save preview prompts")
    return Widgets(picker, new_name, create_btn, rename_btn, duplicate_btn, delete_btn, status, upload, folder,
                   captions_folder, import_btn, stop_btn, import_status, report, resolution, crop, aspect, background,
                   trigger, save_settings_btn, epochs, batch, check_btn, check_summary, check_table, gallery, selected,
                   info, remove_btn, previews, save_previews_btn)


class Handlers:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    @user_errors
    def load(self, name):
        ctx = self.ctx
        if not name:
            return ("No dataset yet: type a name and press Create, or import pictures.", [], 1024, "none", "1:1", "#ffffff", "", "", None,
                    NO_IMAGE)
        dataset = datasets.open_dataset(ctx.workspace, name)
        p = dataset.preprocess
        items = dataset.items()
        uncaptioned = sum(1 for i in items if not i.has_caption)
        text = f"**{dataset.name}**: {len(items)} image(s), {uncaptioned} without caption · `{dataset.images_dir}`"
        return (text, gallery_items(ctx, name), p.resolution, p.crop, p.aspect, p.background, dataset.trigger,
                "\n".join(preview_prompts.read(dataset.images_dir)), None, NO_IMAGE)

    @user_errors
    def refresh(self, name):
        return _picker(self.ctx, name)

    @user_errors
    def create(self, name):
        dataset = datasets.create(self.ctx.workspace.ensure(), name)
        return _picker(self.ctx, dataset.name), ""

    @user_errors
    def rename(self, name, new):
        if not name:
            raise gr.Error("Pick a dataset first.")
        return _picker(self.ctx, datasets.rename(self.ctx.workspace, name, new).name), ""

    @user_errors
    def duplicate(self, name, new):
        if not name:
            raise gr.Error("Pick a dataset first.")
        return _picker(self.ctx, datasets.duplicate(self.ctx.workspace, name, new).name), ""

    @user_errors
    def delete(self, name):
        if not name:
            raise gr.Error("Pick a dataset first.")
        where = datasets.delete(self.ctx.workspace, name)
        gr.Info(f"'{name}' was moved to the trash ({where}); move it back to restore it.")
        return _picker(self.ctx, None)

    @long_job(IMPORT)
    def run_import(self, name, files, folder_path, captions_path, *, cancel):
        ctx = self.ctx
        sources = [Path(f) for f in (files or [])]
        if folder_path and folder_path.strip():
            sources.append(Path(folder_path.strip()).expanduser())
        if not sources:
            raise gr.Error("Choose pictures to upload or type a folder path first.")
        if not name:
            raise gr.Error("Create or pick a dataset first (type a name and press Create).")
        caps = Path(captions_path.strip()).expanduser() if captions_path and captions_path.strip() else None
        rows: list[list[str]] = []
        for event in import_sources(ctx.workspace, name, sources, captions_dir=caps, cancel=cancel):
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

    @user_errors
    def save_settings(self, name, res, crop_, aspect_, colour, trig):
        if not name:
            raise gr.Error("Pick a dataset first.")
        dataset = datasets.open_dataset(self.ctx.workspace, name)
        dataset.save_settings(preprocess=Preprocess(resolution=int(res), crop=crop_, aspect=aspect_, background=colour or "#ffffff"),
                              trigger=trig or "")
        gr.Info("Settings saved for this dataset.")

    @user_errors
    def check(self, name, trig, res, ep, bs):
        if not name:
            raise gr.Error("Pick a dataset first.")
        result = preflight.check(self.ctx.workspace, name, trigger=trig, resolution=int(res), epochs=int(ep or 0) or None,
                                 batch_size=int(bs or 1))
        icon = "✅" if result.ready else "⛔"
        return f"{icon} {result.summary()}", preflight_html(result)

    @user_errors
    def select(self, name, event: gr.SelectData):
        workspace = self.ctx.workspace
        stems = [item.stem for item in datasets.open_dataset(workspace, name).items()]
        if event.index is None or event.index >= len(stems):
            return None, NO_IMAGE
        stem = stems[event.index]
        d = datasets.describe(datasets.open_dataset(workspace, name), stem)
        caption = d["caption"] if d["caption"] is not None else "(caption file is not UTF-8; left unchanged)"
        text = (f"**{stem}** · {d['width']}x{d['height']} · {d['bytes'] / 1024:.0f} KB · {d['versions']} caption version(s)\n\n"
                f"> {caption or '(no caption yet)'}")
        return stem, text

    @user_errors
    def remove(self, name, stem):
        if not stem:
            raise gr.Error("Click an image in the gallery first.")
        where = datasets.remove_image(self.ctx.workspace, name, stem)
        gr.Info(f"{stem} and its caption were moved to {where}.")
        return gallery_items(self.ctx, name), None, f"Removed {stem} (recoverable from the trash)."

    @user_errors
    def save_previews(self, name, text):
        if not name:
            raise gr.Error("Pick a dataset first.")
        dataset = datasets.open_dataset(self.ctx.workspace, name)
        written = preview_prompts.write(dataset.images_dir, (text or "").splitlines(), self.ctx.workspace.trash_dir)
        gr.Info(f"{len(written)} preview prompt(s) saved.")


def wire(ctx: UIContext, w: Widgets) -> None:
    on = Handlers(ctx)
    follow(w.picker, on.load, w.picker, w.loaded)
    # The page-load refresh lists datasets made since the app started. A Create (Rename, …) pressed before its
    # answer came wins: it cancels the refresh, whose older list would otherwise put the picker back.
    refreshing = ctx.blocks.load(on.refresh, w.picker, w.picker)
    refreshing.then(on.load, w.picker, w.loaded)
    w.create_btn.click(on.create, w.new_name, [w.picker, w.new_name], cancels=[refreshing])
    w.rename_btn.click(on.rename, [w.picker, w.new_name], [w.picker, w.new_name], cancels=[refreshing])
    w.duplicate_btn.click(on.duplicate, [w.picker, w.new_name], [w.picker, w.new_name], cancels=[refreshing])
    w.delete_btn.click(on.delete, w.picker, w.picker, cancels=[refreshing])

    w.import_btn.click(on.run_import, [w.picker, w.upload, w.folder, w.captions_folder],
                       [w.import_status, w.report, w.gallery, w.upload],
                       concurrency_id="dataset-io", concurrency_limit=1).then(on.load, w.picker, w.loaded)
    w.stop_btn.click(IMPORT.stop_handler(), None, None)
    w.save_settings_btn.click(on.save_settings, [w.picker, w.resolution, w.crop, w.aspect, w.background, w.trigger], None)
    w.check_btn.click(on.check, [w.picker, w.trigger, w.resolution, w.epochs, w.batch], [w.check_summary, w.check_table],
                      api_name="dataset_check")
    w.gallery.select(on.select, w.picker, [w.selected, w.info])
    w.remove_btn.click(on.remove, [w.picker, w.selected], [w.gallery, w.selected, w.info], concurrency_id="dataset-io")
    w.save_previews_btn.click(on.save_previews, [w.picker, w.previews], None)
