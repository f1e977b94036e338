"""The captions room: the same-stem .txt captions of a dataset, kept with their history, and Florence-2 auto-captions.

- store: read, save (with history and undo), bulk edits previewed before they apply, word counts
- captioner: `auto_caption(workspace, dataset, options)` with Florence-2 (transformers, loaded lazily)

It sits below the dataset room: it works on any object with a name, a root and `items()` (a core.dataset Dataset).
"""

__all__ = ["store", "captioner"]
