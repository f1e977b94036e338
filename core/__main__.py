import logging
import os
import sys

from core.cli import main

code = main()
if "mlx.core" in sys.modules:
    # MLX's C++ teardown at interpreter exit can abort ("terminate called without an active exception") after
    # a model ran on a helper thread, turning a finished command into exit code -6. Everything is written and
    # flushed by now, so leave without running that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)
sys.exit(code)
