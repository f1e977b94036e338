"""Run the real app (app.launch) on a loopback port for the duration of a test session."""

from __future__ import annotations

import contextlib
import time
import urllib.request


@contextlib.contextmanager
def running_app(settings):
    import app

    demo = app.launch(settings, block=False)
    url = demo.local_url.rstrip("/")
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    try:
        yield url
    finally:
        demo.close()
