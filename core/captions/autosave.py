"""When the Caption Editor writes the text in its box without a Save press (leaving an image or the tab, the box
losing focus), and when it must not.

The rule: write when the text differs from what the editor loaded and from what is on disk now. An emptied text
box never wipes a caption by itself (a text box the page has not drawn yet reads as empty): clearing a caption
takes an explicit save. A caption file that is not UTF-8 is never written.
"""

from __future__ import annotations

from enum import Enum

from core.captions import store


class Autosave(str, Enum):
    UNCHANGED = "unchanged"  # nothing to write (no image, nothing typed, or the same text as on disk)
    SAVED = "saved"
    KEPT = "kept"  # the box was empty and the caption on disk was not: the caption was kept


def autosave(dataset, stem: str | None, text: str | None, loaded: str | None) -> Autosave:
    """Save the editor's `text` for `stem` when the rule allows. `loaded` is the text as the editor last read or
    wrote it (None: the file could not be read as UTF-8)."""
    if stem is None or loaded is None or text is None or text == loaded:
        return Autosave.UNCHANGED
    try:
        on_disk = store.read(dataset, stem)
    except store.CaptionEncodingError:
        return Autosave.UNCHANGED
    if not text.strip() and on_disk.strip():
        return Autosave.KEPT
    if text == on_disk:
        return Autosave.UNCHANGED
    store.save(dataset, stem, text)
    return Autosave.SAVED
