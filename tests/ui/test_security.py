"""The app's doors: a login off loopback, and files served only from the workspace's allowed folders."""

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request

from tests.support.app_server import running_app
from tests.support.env import free_port


def _status(opener, url: str, data: bytes | None = None) -> int:
    try:
        with opener.open(url, data=data, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_network_address_needs_the_login(workspace_dir, cache_dir):
    from core.settings import load_settings

    settings = load_settings(env_file=None, environ={
        "WORKSPACE_DIR": str(workspace_dir), "APP_CACHE_DIR": str(cache_dir), "APP_PORT": str(free_port()),
        "APP_HOST": "127.0.0.2",  # any address but loopback's names counts as a network address
        "APP_USERNAME": "mira", "APP_PASSWORD": "pw-Secret-4711",
    })
    assert not settings.is_loopback
    with running_app(settings) as url:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        assert _status(opener, url + "/config") == 401
        wrong = urllib.parse.urlencode({"username": "mira", "password": "guess"}).encode()
        assert _status(opener, url + "/login", wrong) in (400, 401)
        assert _status(opener, url + "/config") == 401
        right = urllib.parse.urlencode({"username": "mira", "password": "pw-Secret-4711"}).encode()
        assert _status(opener, url + "/login", right) == 200
        assert _status(opener, url + "/config") == 200


def test_files_are_served_only_from_the_allowed_folders(app_url, app_workspace, tmp_path):
    allowed = app_workspace / "outputs" / "served.txt"
    allowed.write_text("fine to show")
    private = tmp_path / "private.txt"
    private.write_text("not for the page")
    opener = urllib.request.build_opener()
    assert _status(opener, f"{app_url}/gradio_api/file={allowed}") == 200
    assert _status(opener, f"{app_url}/gradio_api/file={private}") in (403, 404)
    sneaky = f"{app_workspace}/outputs/../../{tmp_path.name}/private.txt"
    assert _status(opener, f"{app_url}/gradio_api/file={urllib.parse.quote(sneaky)}") in (403, 404)
    assert _status(opener, f"{app_url}/gradio_api/file=/etc/passwd") in (403, 404)
