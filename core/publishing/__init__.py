"""The publishing room: a chosen checkpoint to a Hub commit (adapter, model card, samples), then a Runware model.

- publish: `publish(...)`, the whole publication of one version, continued from its record after any failure
- record: what a publication keeps (publish.json): `PublishRecord`, `PublishedVersion`, `save_version`
- upload: what may leave the machine (an allowlist of files, secrets and local paths removed)
- hub: the Hugging Face Hub client side (whoami, repo, one commit per version)
- model_card: the card (README.md) and its editable draft
- registration: registering the committed adapter on Runware and waiting until it is ready
"""

__all__ = ["publish", "record", "upload", "hub", "model_card", "registration"]
