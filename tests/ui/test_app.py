"""The launched app, through gradio_client and through app.py's own start-up checks."""

import socket
import subprocess
import sys

from tests.support.env import PROJECT_ROOT, cli_env, free_port


def test_gradio_client_reads_the_doctor_header(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    header = client.predict(api_name="/doctor")
    assert "MLX" in header and "mflux 0.24.0" in header
    assert "HF_TOKEN missing" in header


def run_app(args, env, timeout=60):
    return subprocess.run([sys.executable, "app.py", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_refuses_a_network_address_without_a_login(workspace_dir, cache_dir):
    done = run_app(["--host", "0.0.0.0", "--port", str(free_port())], cli_env(workspace_dir, cache_dir))
    assert done.returncode == 1
    assert "Refusing to listen on 0.0.0.0" in done.stderr and "APP_USERNAME and APP_PASSWORD" in done.stderr
    assert "Traceback" not in done.stderr


def test_port_in_use_says_what_to_do(workspace_dir, cache_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_app(["--port", str(port)], cli_env(workspace_dir, cache_dir))
    assert done.returncode == 1
    assert f"Port {port} is already in use" in done.stderr and f"PORT={port + 1}" in done.stderr
    assert "Traceback" not in done.stderr
