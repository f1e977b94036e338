# Imported by Python at start-up when this folder is on PYTHONPATH (see core.selftest_model.subprocess_env).
# Applies the self-test model's geometry so unmodified mflux console scripts run on it.
import os

if os.environ.get("STORY_LORA_SELFTEST_MODEL") == "1":
    from core.models import selftest_model

    selftest_model.use_selftest_geometry()
