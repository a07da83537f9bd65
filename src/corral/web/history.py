"""The cores and GPUs in use, sampled while ``corral web`` runs: the dashboard's chart.

The instance keeps no time series; the web server asks for the node list every `INTERVAL`
seconds and keeps `KEEP` seconds of samples in memory (a restart of the web server starts
a new chart).  A Prometheus server scraping ``[metrics]`` keeps the long history.
"""

import asyncio
import collections
import logging
import time

from ..client import RPCError

log = logging.getLogger("corral.web")

INTERVAL = 10.0
KEEP = 6 * 3600


class History:
    def __init__(self, upstream, interval: float = INTERVAL):
        self.upstream = upstream
        self.interval = interval
        self._samples = collections.deque(maxlen=int(KEEP / interval))
        self._task = None

    def start(self):
        self._task = asyncio.ensure_future(self._run())

    async def stop(self):
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self):
        while True:
            try:
                await self.sample()
            except RPCError as exc:
                log.warning("utilization sample skipped: %s", exc.strerror)
            await asyncio.sleep(self.interval)

    async def sample(self):
        nodes = (await self.upstream.rpc("resource.list"))["nodes"]
        self._samples.append({
            "time": time.time(),
            "cores": sum(node["ncores"] for node in nodes),
            "cores_used": sum(node["ncores"] - node["free_cores"] for node in nodes),
            "gpus": sum(node["ngpus"] for node in nodes),
            "gpus_used": sum(node["ngpus"] - node["free_gpus"] for node in nodes),
        })

    def samples(self) -> list[dict]:
        return list(self._samples)
