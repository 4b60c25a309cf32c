"""`leadsea serve`: the real server (gunicorn, 2 workers x 4 threads) on a temporary SQLite database, with
static files and concurrent API reads and writes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

LEADSEA = Path(sys.executable).with_name("leadsea")
HOST = "127.0.0.1"
PASSWORD = "serve-test-pass-1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def http(
    method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 30
) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def server(tmp_path: Path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "LEADSEA_TEST", "LEADSEA_TENANT")) and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        LEADSEA_VAR_DIR=str(tmp_path / "var"),
        STATIC_ROOT=str(tmp_path / "static"),
        DEBUG="0",
    )

    def leadsea(*args: str) -> None:
        r = subprocess.run(
            [str(LEADSEA), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, (args, r.stdout, r.stderr)

    leadsea("init")
    leadsea("tenant", "create", "acme", "--name", "Acme")
    leadsea(
        "user", "create", "--tenant", "acme", "--username", "boss", "--password", PASSWORD, "--role", "admin"
    )
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [str(LEADSEA), "serve", "--host", HOST, "--port", str(port), "--workers", "2", "--threads", "4"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                status, body = http("GET", f"{base}/healthz", timeout=2)
                if status == 200:
                    assert json.loads(body) == {"status": "ok"}
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (
                "server did not come up:\n" + (tmp_path / "server.log").read_text()
            )
            time.sleep(0.2)
        yield base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        log.close()


def test_serve_static_and_concurrent_api(server):
    status, body = http("GET", f"{server}/static/vendor/htmx/htmx.min.js")
    assert status == 200 and b"htmx" in body[:2000] and len(body) > 10_000
    status, _ = http("GET", f"{server}/static/leadsea/app.css")
    assert status == 200
    status, body = http("GET", f"{server}/login/")
    assert status == 200 and b"<form" in body

    status, body = http(
        "POST", f"{server}/api/v1/auth/token", {"tenant": "acme", "username": "boss", "password": PASSWORD}
    )
    assert status == 200, body
    token = json.loads(body)["token"]
    assert http("GET", f"{server}/api/v1/leads")[0] == 401

    def call(i: int) -> tuple[str, int, Any]:
        if i % 2 == 0:
            status, body = http(
                "POST", f"{server}/api/v1/leads", {"name": f"并发店{i}", "tags": ["并发"]}, token
            )
            return "create", status, json.loads(body)
        status, body = http("GET", f"{server}/api/v1/leads?page_size=5", token=token)
        return "list", status, json.loads(body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(call, range(40), timeout=120))
    creates = [r for r in results if r[0] == "create"]
    lists = [r for r in results if r[0] == "list"]
    assert all(status == 201 for _, status, _ in creates), [r for r in creates if r[1] != 201][:3]
    assert all(status == 200 for _, status, _ in lists), [r for r in lists if r[1] != 200][:3]
    assert len({body["id"] for _, _, body in creates}) == len(creates) == 20
    status, body = http("GET", f"{server}/api/v1/leads?page_size=200", token=token)
    page = json.loads(body)
    assert status == 200 and page["count"] == len(creates)
    assert {x["name"] for x in page["items"]} == {f"并发店{i}" for i in range(0, 40, 2)}
