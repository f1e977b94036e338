"""The dataset room: a character's pictures in exactly mflux's layout (PNG + same-stem .txt), imported and checked.

- datasets: `Dataset`, `Item`, create / open / rename / duplicate / delete, remove an image (to the trash)
- importer: files, zips and folders in; a report of every file accepted or rejected out
- images: turning a person's picture into a training image (orientation, alpha, crop, resize)
- preflight: errors that block training and warnings that do not
- preview_prompts: the prompts mflux renders as previews during training
"""

__all__ = ["datasets", "importer", "images", "preflight", "preview_prompts"]
