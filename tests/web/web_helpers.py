"""HTTP to a real ``corral web``: over TCP with a token, or over its Unix socket."""

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=20):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def request(target, method, path, body=None, token=None, raw=None, headers=None):
    """``(status, decoded JSON or text)``; ``target`` is ``http://HOST:PORT/`` or a Unix
    socket path; ``raw`` sends bytes as they are."""
    if target.startswith("http://"):
        host, port = target[len("http://"):].rstrip("/").rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=20)
    else:
        connection = UnixHTTPConnection(target)
    headers = dict(headers or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        headers.setdefault("Content-Type", "application/json")
    try:
        connection.request(method, path, data, headers)
        response = connection.getresponse()
        text = response.read().decode()
    finally:
        connection.close()
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return response.status, json.loads(text)
    return response.status, text


class WebServer:
    """A ``corral web`` process serving ``inst`` on a free TCP port and a Unix socket."""

    def __init__(self, inst, unix_path, *options):
        self.inst = inst
        self.unix = unix_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "corral", "web", "--listen", "127.0.0.1:0",
             "--unix", unix_path, *options], env=inst.env(), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        if not ready:
            self.stop()
            raise RuntimeError("corral web did not start within 30 s")
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            raise RuntimeError(f"corral web failed: {self.url}{self.process.stderr.read()}")
        self.process.stdout.readline()  # the Unix socket's line

    def get(self, path, **kwargs):
        return request(self.url, "GET", path, **kwargs)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(20)
        assert self.process.returncode == 0, self.process.stderr.read()
