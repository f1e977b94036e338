"""The Caption Editor tab: a gallery and a large text box, driven by keyboard (ui/keyboard.html):
Alt+↓ / Alt+↑ next / previous, Alt+J next caption needing attention, Ctrl+S save, Alt+Z undo.
Leaving an image (navigation, gallery click, the text box losing focus) saves it first. Bulk edits
(find/replace, prefix/suffix, trigger) show every change before they are applied, as one undoable step.
"""

from __future__ import annotations

from dataclasses import asdict

import gradio as gr

from core.captions import captioner
from core.captions import store as captions
from core.dataset import datasets
from ui.background import relay
from ui.context import UIContext
from ui.feedback import user_errors
from ui.shell import HEAD_PATHS
from ui.stopping import StopRegistry

STOPS = StopRegistry()
KEYBOARD_HTML = __file__.replace("caption_tab.py", "keyboard.html")
if KEYBOARD_HTML not in HEAD_PATHS:
    HEAD_PATHS.append(KEYBOARD_HTML)
IO = {"concurrency_id": "caption-io", "concurrency_limit": 1}


def _dataset(ctx: UIContext, name: str | None):
    if not name:
        raise gr.Error("Pick or create a dataset in the Dataset tab first.")
    return datasets.open_dataset(ctx.workspace, name)


def _gallery(dataset, only: list[str] | None = None) -> list[tuple[str, str]]:
    texts = captions.read_all(dataset)
    shown = []
    for item in dataset.items():
        if only is not None and item.stem not in only:
            continue
        text = texts.get(item.stem)
        mark = "⚠ not UTF-8" if text is None else ("· empty" if not text.strip() else "")
        shown.append((str(item.image), f"{item.stem} {mark}".strip()))
    return shown


def _status(dataset, stem: str | None, text: str, note: str = "") -> str:
    if not stem:
        return note or "No image selected."
    words = len(text.split())
    position = [i.stem for i in dataset.items()].index(stem) + 1 if stem in [i.stem for i in dataset.items()] else 0
    trigger = dataset.trigger
    check = "" if not trigger else (" · trigger ✓" if captions.has_trigger(text, trigger) else f" · **no trigger '{trigger}'**")
    return f"**{stem}** ({position}/{len(dataset.items())}) · {words} words · {len(text)} characters{check}" + (f" · {note}" if note else "")


def build(ctx: UIContext) -> None:
    gr.Markdown("## Caption Editor\nKeys: **Alt+↓ / Alt+↑** next / previous · **Alt+J** next caption that is empty or lacks the trigger · "
                "**Ctrl+S** save · **Alt+Z** undo the last change. Leaving an image saves it.")
    picker = ctx.shared.get("dataset")
    current = gr.State(None)  # the stem in the editor
    loaded = gr.State("")  # its text as last read from or written to disk
    filter_state = gr.State(None)
    pending = gr.State([])  # previewed bulk changes
    with gr.Row():
        with gr.Column(scale=2):
            gallery = gr.Gallery(columns=4, height=560, allow_preview=False, elem_id="caption-gallery", label="Images")
            with gr.Row():
                filter_box = gr.Textbox(label="Show only captions containing", elem_id="caption-filter", scale=3)
                clear_filter = gr.Button("Show all", scale=1)
        with gr.Column(scale=3):
            image = gr.Image(label="Image", height=420, interactive=False, elem_id="caption-image", buttons=[])
            text = gr.Textbox(label="Caption", lines=5, max_lines=14, elem_id="caption-text", autofocus=False)
            status = gr.Markdown(elem_id="caption-status")
            with gr.Row():
                prev_btn = gr.Button("◀ Previous (Alt+↑)", elem_id="caption-prev")
                next_btn = gr.Button("Next (Alt+↓) ▶", elem_id="caption-next")
                todo_btn = gr.Button("Next to fix (Alt+J)", elem_id="caption-next-todo")
                save_btn = gr.Button("Save (Ctrl+S)", variant="primary", elem_id="caption-save")
                undo_btn = gr.Button("Undo last change (Alt+Z)", elem_id="caption-undo")
            with gr.Accordion("Versions of this caption", open=False):
                versions = gr.Dropdown(label="Version", choices=[], elem_id="caption-versions")
                restore_btn = gr.Button("Restore this version")

    with gr.Accordion("Find and replace · prefix / suffix · trigger word", open=False):
        with gr.Row():
            find = gr.Textbox(label="Find", elem_id="caption-find")
            replace = gr.Textbox(label="Replace with", elem_id="caption-replace")
            regex = gr.Checkbox(label="Regular expression")
            ignore_case = gr.Checkbox(label="Ignore case")
            preview_replace_btn = gr.Button("Preview replace", elem_id="caption-preview-replace")
        with gr.Row():
            prefix = gr.Textbox(label="Prefix for all")
            suffix = gr.Textbox(label="Suffix for all")
            preview_affix_btn = gr.Button("Preview prefix/suffix")
            trigger = gr.Textbox(label="Trigger word", elem_id="caption-trigger")
            preview_trigger_btn = gr.Button("Preview: trigger first")
            preview_untrigger_btn = gr.Button("Preview: remove trigger")
        changes_table = gr.Dataframe(headers=["image", "before", "after"], value=[], interactive=False, wrap=True,
                                     elem_id="caption-changes", label="Changes that would be applied")
        apply_btn = gr.Button("Apply these changes", variant="primary", elem_id="caption-apply")

    with gr.Accordion("Words and tags over the dataset (click one to filter)", open=False):
        tags_mode = gr.Radio(["words", "comma tags"], value="comma tags", label="Count")
        counts = gr.Dataframe(headers=["word", "captions"], value=[], interactive=False, elem_id="caption-counts", max_height=300)

    with gr.Accordion("Auto-caption with Florence-2", open=False):
        with gr.Row():
            model = gr.Textbox(value=captioner.DEFAULT_MODEL, label="Model (Hub id or local folder)", elem_id="caption-model")
            task = gr.Dropdown(list(captioner.TASKS), value="<DETAILED_CAPTION>", label="Task")
            policy = gr.Radio(["skip", "overwrite", "append"], value="skip", label="Images that already have a caption")
        with gr.Row():
            auto_btn = gr.Button("Caption the dataset", variant="primary", elem_id="caption-auto")
            auto_stop = gr.Button("Stop", elem_id="caption-auto-stop")
        auto_status = gr.Markdown(elem_id="caption-auto-status")

    # --- helpers shared by the handlers ---
    def show(dataset, stem, note="", only=None):
        """Outputs for [gallery, current, loaded, image, text, status, versions]."""
        if stem is None:
            return _gallery(dataset, only), None, "", None, "", note or "This dataset has no images yet.", gr.update(choices=[], value=None)
        item = dataset.item(stem)
        try:
            body = captions.read(dataset, stem)
        except captions.CaptionEncodingError as error:
            return (_gallery(dataset, only), stem, None, str(item.image), "", f"⛔ {error}", gr.update(choices=[], value=None))
        rows = captions.version_rows(dataset, stem)
        choices = [(f"{r['index']}: {r['when']} · {r['source']} · {r['text'][:60]}", r["index"]) for r in reversed(rows)]
        return (gr.skip(), stem, body, str(item.image), body, _status(dataset, stem, body, note), gr.update(choices=choices, value=None))

    def keep(dataset, stem, body, was) -> str:
        """Autosave: write the editor's text when it differs from what was loaded; returns a note.
        An emptied text box never wipes a caption by itself (a text box the page has not drawn yet reads
        as empty): clearing a caption takes the Save button."""
        if stem is None or was is None or body is None or body == was:
            return ""
        try:
            on_disk = captions.read(dataset, stem)
        except captions.CaptionEncodingError:
            return ""
        if not body.strip() and on_disk.strip():
            return f"the empty text was not saved over {stem}'s caption (press Save to clear it)"
        if body == on_disk:
            return ""
        captions.save(dataset, stem, body)
        return f"saved {stem} ✓"

    editor = [gallery, current, loaded, image, text, status, versions]

    @user_errors
    def open_dataset(name, only):
        if not name:
            return [], None, "", None, "", "Pick or create a dataset in the Dataset tab first.", gr.update(choices=[]), ""
        dataset = _dataset(ctx, name)
        stems = [i.stem for i in dataset.items()]
        out = show(dataset, stems[0] if stems else None)
        return (_gallery(dataset, only), *out[1:], dataset.trigger)

    @user_errors
    def refresh(name, stem, body, was, only, event: gr.SelectData):
        """Leaving the tab saves the editor; coming back shows the same image with what is on disk now
        (the text box of a hidden tab is not trusted: nothing is saved from it)."""
        arriving = event.value == "Caption Editor" or event.index in ("tab-captions", 1)
        if not name:
            return open_dataset(name, only)
        dataset = _dataset(ctx, name)
        if not arriving:
            keep(dataset, stem, body, was)
            return (gr.skip(),) * 8
        note = ""
        stems = [i.stem for i in dataset.items()]
        out = show(dataset, stem if stem in stems else (stems[0] if stems else None), note, only)
        return (_gallery(dataset, only), *out[1:], dataset.trigger)

    if picker is not None:
        picker.change(open_dataset, [picker, filter_state], editor + [trigger], **IO)
        loading = ctx.blocks.load(open_dataset, [picker, filter_state], editor + [trigger], **IO)
        returning = ctx.tabs.select(refresh, [picker, current, text, loaded, filter_state], editor + [trigger], **IO)

    def navigate(step: int, attention: bool = False):
        @user_errors
        def handler(name, stem, body, was):
            dataset = _dataset(ctx, name)
            note = keep(dataset, stem, body, was)
            target = captions.next_stem(dataset, stem, step, trigger=dataset.trigger, attention=attention)
            if target is None:
                note = (note + " · " if note else "") + "every caption has text and the trigger ✓"
                target = stem
            out = show(dataset, target, note)
            return (_gallery(dataset) if note else gr.skip(), *out[1:])
        return handler

    nav_inputs = [picker, current, text, loaded]
    prev_btn.click(navigate(-1), nav_inputs, editor, **IO)
    next_btn.click(navigate(1), nav_inputs, editor, api_name="caption_next", **IO)
    todo_btn.click(navigate(1, attention=True), nav_inputs, editor, **IO)

    @user_errors
    def pick(name, stem, body, was, only, event: gr.SelectData):
        dataset = _dataset(ctx, name)
        note = keep(dataset, stem, body, was)
        shown = [i.stem for i in dataset.items() if only is None or i.stem in only]
        target = shown[event.index] if event.index is not None and event.index < len(shown) else stem
        out = show(dataset, target, note, only)
        return (_gallery(dataset, only) if note else gr.skip(), *out[1:])

    gallery.select(pick, nav_inputs + [filter_state], editor, **IO)

    @user_errors
    def save(name, stem, body, was):
        dataset = _dataset(ctx, name)
        if stem is None:
            return gr.skip(), gr.skip(), gr.skip()
        if was is None:
            raise gr.Error("This caption file is not UTF-8 and is left unchanged; fix it in a text editor first.")
        if body is None:
            return gr.skip(), gr.skip(), gr.skip()
        changed = captions.save(dataset, stem, body)
        return body, _status(dataset, stem, body, "saved ✓" if changed else "unchanged"), gr.skip()

    save_btn.click(save, nav_inputs, [loaded, status, gallery], api_name="caption_save", **IO)
    @user_errors
    def autosave(name, stem, body, was):
        if not name or stem is None:
            return gr.skip(), gr.skip()
        dataset = _dataset(ctx, name)
        note = keep(dataset, stem, body, was)
        if not note:
            return gr.skip(), gr.skip()
        shown = captions.read(dataset, stem)
        return shown, _status(dataset, stem, body or "", note)

    text.blur(autosave, nav_inputs, [loaded, status], **IO)

    @user_errors
    def undo(name, stem, body, was):
        dataset = _dataset(ctx, name)
        keep(dataset, stem, body, was)
        restored = captions.undo(dataset)
        out = show(dataset, stem, f"undid the last change ({len(restored)} caption(s) restored)")
        return (_gallery(dataset), *out[1:])

    undo_btn.click(undo, nav_inputs, editor, **IO)

    @user_errors
    def restore(name, stem, index):
        if index is None:
            raise gr.Error("Pick a version first.")
        dataset = _dataset(ctx, name)
        captions.restore(dataset, stem, int(index))
        out = show(dataset, stem, f"restored version {index}")
        return (_gallery(dataset), *out[1:])

    restore_btn.click(restore, [picker, current, versions], editor, **IO)

    # --- bulk edits: preview, then apply ---
    def preview(kind):
        @user_errors
        def handler(name, find_, replace_, regex_, case_, prefix_, suffix_, trigger_):
            dataset = _dataset(ctx, name)
            if kind == "replace":
                changes = captions.preview_replace(dataset, find_, replace_ or "", regex=regex_, ignore_case=case_)
            elif kind == "affix":
                changes = captions.preview_affix(dataset, prefix_ or "", suffix_ or "")
            else:
                changes = captions.preview_trigger(dataset, trigger_ or "", remove=(kind == "untrigger"))
            if not changes:
                gr.Info("No caption would change.")
            return [[c.stem, c.before, c.after] for c in changes], [dict(asdict(c), source=kind) for c in changes]
        return handler

    bulk_inputs = [picker, find, replace, regex, ignore_case, prefix, suffix, trigger]
    preview_replace_btn.click(preview("replace"), bulk_inputs, [changes_table, pending])
    preview_affix_btn.click(preview("affix"), bulk_inputs, [changes_table, pending])
    preview_trigger_btn.click(preview("trigger"), bulk_inputs, [changes_table, pending])
    preview_untrigger_btn.click(preview("untrigger"), bulk_inputs, [changes_table, pending])

    @user_errors
    def apply(name, stem, body, was, planned):
        if not planned:
            raise gr.Error("Preview the changes first.")
        dataset = _dataset(ctx, name)
        keep(dataset, stem, body, was)
        changes = [captions.Change(p["stem"], p["before"], p["after"]) for p in planned]
        applied = captions.apply(dataset, changes, source=planned[0]["source"].replace("untrigger", "trigger"))
        skipped = len(changes) - len(applied)
        note = f"applied to {len(applied)} caption(s)" + (f", {skipped} edited since the preview were left alone" if skipped else "") + " · Alt+Z undoes it"
        out = show(dataset, stem, note)
        return (_gallery(dataset), *out[1:], [], [])

    applying = apply_btn.click(apply, nav_inputs + [pending], editor + [changes_table, pending], **IO)

    # --- counts and filter ---
    @user_errors
    def count(name, mode):
        if not name:
            return []  # no dataset yet (a new workspace): nothing to count, no error toast
        dataset = _dataset(ctx, name)
        return [[w, n] for w, n in captions.word_counts(dataset, tags=(mode == "comma tags"))[:300]]

    tags_mode.change(count, [picker, tags_mode], counts)
    applying.then(count, [picker, tags_mode], counts)
    undo_btn.click(count, [picker, tags_mode], counts)
    if picker is not None:
        picker.change(count, [picker, tags_mode], counts)
        loading.then(count, [picker, tags_mode], counts)
        returning.then(count, [picker, tags_mode], counts)

    @user_errors
    def filter_by(name, word):
        dataset = _dataset(ctx, name)
        only = captions.stems_with(dataset, word) if word and word.strip() else None
        return _gallery(dataset, only), only

    filter_box.submit(filter_by, [picker, filter_box], [gallery, filter_state])
    clear_filter.click(lambda name: (_gallery(_dataset(ctx, name)), None, ""), picker, [gallery, filter_state, filter_box])

    @user_errors
    def click_count(name, event: gr.SelectData):
        word = event.row_value[0] if event.row_value else str(event.value)
        gallery_value, only = filter_by(name, word)
        return gallery_value, only, word

    counts.select(click_count, picker, [gallery, filter_state, filter_box])

    # --- auto-caption ---
    @user_errors
    def auto(name, model_, task_, policy_, trigger_):
        dataset = _dataset(ctx, name)
        options = captioner.CaptionOptions(model=model_.strip() or captioner.DEFAULT_MODEL, task=task_, policy=policy_,
                                           trigger=trigger_ or dataset.trigger, endpoint=ctx.settings.hf_endpoint)
        with STOPS.job("caption") as cancel:
            for event in relay(lambda: captioner.auto_caption(ctx.workspace, dataset, options, cancel=cancel)):
                if event.result is not None:
                    yield f"✅ {event.result.summary()}", _gallery(dataset)
                    return
                bar = f" [{event.step}/{event.total}]" if event.total else ""
                yield f"⏳{bar} {event.message}", gr.skip()

    auto_btn.click(auto, [picker, model, task, policy, trigger], [auto_status, gallery], concurrency_id="caption-auto",
                   concurrency_limit=1).then(open_dataset, [picker, filter_state], editor + [trigger]).then(
                       count, [picker, tags_mode], counts)
    auto_stop.click(lambda: STOPS.stop("caption") and None, None, None)
