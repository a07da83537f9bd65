"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol.

Only what the dashboard tests need: open a page, evaluate JavaScript in it, wait for a
condition, take a screenshot.  The protocol is JSON over a WebSocket (aiohttp's client), so
no browser driver or second browser build is needed.
"""

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile

import aiohttp

BROWSER = shutil.which("chromium")


class Browser:
    """One headless browser with one page; ``async with Browser(width, height) as page``."""

    def __init__(self, width=1280, height=900):
        self.size = (width, height)
        self.profile = None
        self.process = None
        self.session = None
        self.socket = None
        self._ids = itertools.count(1)

    async def __aenter__(self):
        self.profile = tempfile.mkdtemp(prefix="corral-chromium-")
        width, height = self.size
        # --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
        self.process = subprocess.Popen(
            [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port = await self._devtools_port()
        self.session = aiohttp.ClientSession()
        async with self.session.get(f"http://127.0.0.1:{port}/json/list") as response:
            pages = [target for target in await response.json() if target["type"] == "page"]
        self.socket = await self.session.ws_connect(pages[0]["webSocketDebuggerUrl"],
                                                    max_msg_size=64 << 20)
        return self

    async def _devtools_port(self, timeout=30) -> int:
        """Chromium writes the port it chose to DevToolsActivePort in its profile."""
        path = os.path.join(self.profile, "DevToolsActivePort")
        for _ in range(int(timeout / 0.05)):
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}")
            try:
                with open(path) as file:
                    first = file.readline().strip()
                if first:
                    return int(first)
            except FileNotFoundError:
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError(f"chromium did not open its DevTools port within {timeout} s")

    async def __aexit__(self, *exc_info):
        if self.socket is not None:
            await self.socket.close()
        if self.session is not None:
            await self.session.close()
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    async def call(self, method: str, **params):
        """One DevTools command's result (events that arrive meanwhile are dropped)."""
        call_id = next(self._ids)
        await self.socket.send_str(json.dumps({"id": call_id, "method": method,
                                               "params": params}))
        while True:
            message = json.loads((await self.socket.receive(timeout=30)).data)
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']['message']}")
                return message["result"]

    async def open(self, url: str):
        await self.call("Page.enable")
        await self.call("Page.navigate", url=url)

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']['text']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 10.0):
        """The first true value of ``expression``, polled every 50 ms, or AssertionError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if loop.time() > deadline:
                raise AssertionError(f"not true within {timeout} s: {expression}")
            await asyncio.sleep(0.05)

    async def screenshot(self, path: str):
        data = (await self.call("Page.captureScreenshot", format="png"))["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))
