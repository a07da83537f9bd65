"""Make ``docs/dashboard.png``: the dashboard of a 16-node instance with a few dozen jobs.

Run from the repository: ``PYTHONPATH=src python tests/web/screenshot.py``.  It starts a
throw-away instance and ``corral web``, submits jobs of several sizes (some finish, fail or
are cancelled, some wait), lets the utilization chart gather a minute of samples, and takes
the picture in headless Chromium.
"""

import asyncio
import pathlib
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # tests/conftest.py, not this directory's

from browser import Browser  # noqa: E402
from web_helpers import WebServer  # noqa: E402

from conftest import RunningInstance  # noqa: E402

OUTPUT = HERE.parent.parent / "docs" / "dashboard.png"


def populate(inst):
    for seconds in (300, 300, 240, 240, 200):
        inst.submit("-n", "4", "sleep", seconds)
    for index in range(18):
        inst.submit("--job-name", f"sim-{index}", "-n", str(1 + index % 3), "sleep",
                    str(120 + 10 * index))
    for index in range(10):
        inst.submit("--job-name", f"post-{index}", "-n", "8", "sleep", "60")
    for command in (["true"], ["false"], ["true"], ["sh", "-c", "exit 3"]):
        inst.submit(*command)
    canceled = inst.submit("sleep", "600")
    inst.corral("cancel", canceled)
    inst.corral("resource", "drain", "node15", "fan failure")


async def picture(url, token):
    async with Browser(1280, 1400) as page:
        await page.open(f"{url}#token={token}")
        await page.wait_for("document.querySelectorAll('#nodes .node').length === 16", 20)
        await page.wait_for("document.querySelectorAll('#chart polyline').length === 1", 30)
        await page.screenshot(str(OUTPUT))


def main():
    with tempfile.TemporaryDirectory(prefix="corral-screenshot-") as directory:
        config = pathlib.Path(directory) / "corral.toml"
        config.write_text('[[resource.config]]\nhosts = "node[0-15]"\ncores = "0-3"\n')
        inst = RunningInstance(pathlib.Path(directory) / "state", config=config).start()
        web = None
        try:
            web = WebServer(inst, str(pathlib.Path(directory) / "web.sock"))
            token = inst.corral("token", "create", "--name", "screenshot").stdout.strip()
            populate(inst)
            time.sleep(65)  # a few utilization samples (one each 10 s)
            asyncio.run(picture(web.url, token))
        finally:
            if web is not None:
                web.stop()
            inst.stop()
    print(OUTPUT)


if __name__ == "__main__":
    main()
