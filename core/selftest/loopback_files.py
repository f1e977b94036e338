"""A loopback HTTP server for files that fakes hand out by URL (Runware's image URLs, a LoRA's downloadURL)."""

from __future__ import annotations

import hashlib
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileServer:
    """Serves `folders[name][file]` bytes at http://127.0.0.1:PORT/<name>/<file>; records each GET path."""

    def __init__(self, host: str = "127.0.0.1", folders: tuple[str, ...] = ("images", "files")) -> None:
        self.folders: dict[str, dict[str, bytes]] = {name: {} for name in folders}
        self.downloads: list[str] = []
        self._http = ThreadingHTTPServer((host, 0), _handler(self))
        threading.Thread(target=self._http.serve_forever, args=(0.05,), name="loopback-files", daemon=True).start()
        self.url = f"http://{host}:{self._http.server_address[1]}"

    def put(self, folder: str, name: str, data: bytes) -> str:
        self.folders[folder][name] = data
        return f"{self.url}/{folder}/{name}"

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def check_download(url: str, sha256: str) -> str | None:
    """Why the file at `url` cannot be deployed, or None when it downloads and matches `sha256`."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            data = response.read()
    except Exception as exc:  # noqa: BLE001 - any failure is the reason
        return f"Could not download model from downloadURL ({exc})."
    if sha256 and hashlib.sha256(data).hexdigest() != sha256.lower():
        return "The downloaded file does not match uniqueIdentifier (sha256)."
    return None


def _handler(server: FileServer):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            server.downloads.append(self.path)
            folder, _, name = self.path.lstrip("/").partition("/")
            data = server.folders.get(folder, {}).get(name)
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler
