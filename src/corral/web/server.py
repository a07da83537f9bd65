"""``corral web``'s server: the application, its listeners, its life.

A TCP listener takes tokens, a Unix socket listener takes the peer's uid (`auth`); either or
both may be given.  The server must run as the instance owner (or root): only the owner may
send requests on behalf of other users, and it checks that before it listens.
"""

import asyncio
import errno
import importlib.resources
import logging
import os
import signal

from aiohttp import web

from ..client import RPCError
from . import api, openapi
from .history import History
from .upstream import Upstream

log = logging.getLogger("corral.web")

STATIC = importlib.resources.files(__package__) / "static"


class WebError(Exception):
    """``corral web`` cannot serve; ``str()`` is one line saying why."""


def make_app(uri: str, upstream: Upstream, history: History,
             jwt_key: bytes | None = None) -> web.Application:
    app = web.Application(middlewares=[api.answer_errors], client_max_size=4 << 20)
    app["uri"] = uri
    app["jwt_key"] = jwt_key
    app["upstream"] = upstream
    app["history"] = history
    app.add_routes(api.routes)
    document = openapi.document()
    app.router.add_get("/api/v1/openapi.json", lambda request: web.json_response(document))
    app.router.add_get("/", lambda request: web.FileResponse(STATIC / "index.html"))
    app.router.add_static("/static", STATIC)
    return app


async def check_owner(upstream: Upstream):
    """Refuse to serve unless the instance lets this process act for its users."""
    try:
        await upstream.rpc("instance.info", userid=os.geteuid())
    except RPCError as exc:
        if exc.errno == errno.EPERM:
            raise WebError("corral web must run as the instance owner or root (it sends "
                           "requests on behalf of the users it authenticates)") from None
        raise WebError(exc.strerror) from None


async def serve(uri: str, listen: tuple[str, int] | None, unix_path: str | None,
                ready=None, jwt_key: bytes | None = None) -> None:
    """Serve until SIGTERM or SIGINT; ``ready(urls)`` once listening."""
    upstream = Upstream(uri)
    await check_owner(upstream)
    history = History(upstream)
    runner = web.AppRunner(make_app(uri, upstream, history, jwt_key), access_log=None)
    await runner.setup()
    urls = []
    address = None
    try:
        if listen is not None:
            address = f"{listen[0]}:{listen[1]}"
            await web.TCPSite(runner, listen[0], listen[1]).start()
            host, port = runner.addresses[0][:2]
            urls.append(f"http://{host if ':' not in host else f'[{host}]'}:{port}/")
        if unix_path is not None:
            address = unix_path
            await web.UnixSite(runner, unix_path).start()
            os.chmod(unix_path, 0o777)  # who may do what is decided per peer
            urls.append(f"unix://{unix_path}")
    except OSError as exc:
        await runner.cleanup()
        # asyncio words a bind failure with the address again: the errno's text is enough.
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise WebError(f"cannot listen on {address}: {reason}") from None
    history.start()
    stopped = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stopped.set_result, None)
    if ready is not None:
        ready(urls)
    try:
        await stopped
    finally:
        await history.stop()
        await runner.cleanup()
        await upstream.close()
