"""The JSON API's handlers: each one turns an HTTP request into the instance RPC it means.

The instance decides what the user may do (the request is sent with their uid), so a
handler only checks the shape of what it was given and says in one sentence what is wrong.
Errors are ``{"error": TEXT}`` with the HTTP status of the instance's errno (`STATUS`).
`openapi` describes every route here; a route added here is added there.
"""

import asyncio
import errno
import json
import os

from aiohttp import web

from .. import states
from ..client import Client, RPCError
from ..slurm import options, submission
from .auth import AuthError, requester

#: HTTP status for an errno the instance answers with (anything else: 502).
STATUS = {
    errno.ENOENT: 404, errno.EPERM: 403, errno.EACCES: 403, errno.EINVAL: 400,
    errno.EPROTO: 400, errno.E2BIG: 413, errno.ERANGE: 400, errno.EEXIST: 409,
    errno.EAGAIN: 503, errno.ENOSPC: 503, errno.ECONNREFUSED: 503, errno.ECONNRESET: 503,
    errno.ETIMEDOUT: 504, errno.ENOSYS: 404,
}

DEFAULT_PAGE = 100
MAX_PAGE = 10000

routes = web.RouteTableDef()


def error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status)


class BadRequest(Exception):
    """What is wrong with a request's parameters or body, in one sentence."""


@web.middleware
async def answer_errors(request, handler):
    """Authenticate API requests (``request["uid"]``) and turn failures into JSON errors."""
    try:
        if request.path.startswith("/api/") and request.path != "/api/v1/openapi.json":
            request["uid"] = await requester(request, request.app["upstream"])
        return await handler(request)
    except AuthError as exc:
        return web.json_response({"error": str(exc)}, status=401,
                                 headers={"WWW-Authenticate": 'Bearer realm="corral"'})
    except BadRequest as exc:
        return error(400, str(exc))
    except web.HTTPException as exc:  # no such route or method, a body over the size limit
        if exc.status < 400:
            raise
        return error(exc.status, f"{exc.reason}: {request.method} {request.path}")
    except RPCError as exc:
        return error(STATUS.get(exc.errno, 502), exc.strerror or os.strerror(exc.errno))


def _rpc(request, topic, payload=None):
    return request.app["upstream"].rpc(topic, payload, request["uid"])


def _int_param(request, name, default, low, high) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if not text.isdecimal() or not low <= int(text) <= high:
        raise BadRequest(f"query parameter '{name}' must be an integer from {low} to {high}")
    return int(text)


def _job_id(request) -> int:
    text = request.match_info["id"]
    if not text.isdecimal() or not 0 < int(text) < 2**63:
        raise BadRequest(f"'{text}' is not a job id (a positive integer)")
    return int(text)


async def _body(request) -> dict:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


# --- who, jobs, nodes, queues ------------------------------------------------------------

@routes.get("/api/v1/whoami")
async def whoami(request):
    info = await request.app["upstream"].rpc("instance.info")
    uid = request["uid"]
    return web.json_response({"userid": uid, "owner": uid in (0, info["owner"])})


@routes.get("/api/v1/jobs")
async def list_jobs(request):
    limit = _int_param(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    offset = _int_param(request, "offset", 0, 0, 2**31)
    payload = {"max": limit + 1, "offset": offset}
    if "state" in request.query:
        try:
            payload["states"] = states.parse_states(request.query["state"])
        except ValueError as exc:
            raise BadRequest(f"query parameter 'state': {exc}") from None
    user = request.query.get("user", "me")
    if user == "all":
        payload["userid"] = -1
    elif user.isdecimal() and int(user) < 2**32:
        payload["userid"] = int(user)
    elif user != "me":
        raise BadRequest("query parameter 'user' must be 'me', 'all' or a uid")
    jobs = (await _rpc(request, "job-list.list", payload))["jobs"]
    more = len(jobs) > limit
    return web.json_response({"jobs": jobs[:limit], "offset": offset, "limit": limit,
                              "next_offset": offset + limit if more else None})


@routes.get("/api/v1/jobs/{id}")
async def show_job(request):
    return web.json_response((await _rpc(request, "job-list.list-id",
                                         {"id": _job_id(request)}))["job"])


@routes.get("/api/v1/jobs/{id}/eventlog")
async def eventlog(request):
    answer = await _rpc(request, "job-info.eventlog", {"id": _job_id(request)})
    return web.json_response({"events": answer["events"]})


@routes.get("/api/v1/jobs/{id}/eventlog/stream")
async def eventlog_stream(request):
    """Server-sent events: one ``event: NAME`` with the event as ``data`` per eventlog entry,
    the committed ones first, until the job is inactive."""
    upstream = request.app["upstream"]
    events = upstream.stream("job-info.eventlog", {"id": _job_id(request), "watch": True},
                             request["uid"])
    try:
        first = await anext(events, None)  # an unknown job is a 404, not an empty stream
    except RPCError:
        await events.aclose()
        raise
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    await response.prepare(request)
    try:
        if first is not None:
            await response.write(_sse(first["event"]))
            async for payload in events:
                await response.write(_sse(payload["event"]))
        await response.write(b"event: end\ndata: {}\n\n")
    except (RPCError, ConnectionResetError):
        pass
    finally:
        await events.aclose()
    return response


def _sse(event) -> bytes:
    return f"event: {event['name']}\ndata: {json.dumps(event)}\n\n".encode()


@routes.get("/api/v1/jobs/{id}/output")
async def output(request):
    streams = {"stdout": "", "stderr": ""}
    upstream = request.app["upstream"]
    async for chunk in upstream.stream("job-info.output", {"id": _job_id(request)},
                                       request["uid"]):
        streams[chunk["stream"]] = streams.get(chunk["stream"], "") + chunk["data"]
    return web.json_response(streams)


@routes.post("/api/v1/jobs")
async def submit(request):
    body = await _body(request)
    if ("jobspec" in body) == ("sbatch" in body):
        raise BadRequest("the body needs either 'jobspec' (RFC 25) or 'sbatch' (a script "
                         "and Slurm options)")
    if "jobspec" in body:
        urgency = body.get("urgency", 16)
        if not isinstance(body["jobspec"], dict):
            raise BadRequest("'jobspec' must be an object")
        answer = await _rpc(request, "job-manager.submit",
                            {"jobs": [{"jobspec": body["jobspec"], "urgency": urgency}]})
        result = answer["jobs"][0]
        if "errnum" in result:
            raise RPCError(result["errnum"], result["errstr"])
        return web.json_response({"id": result["id"], "ids": [result["id"]]}, status=201)
    ids = await asyncio.to_thread(_sbatch, request.app["uri"], request["uid"], body["sbatch"])
    return web.json_response({"id": ids[0], "ids": ids}, status=201)


def _sbatch(uri, uid, given) -> list[int]:
    """Submit as ``sbatch`` would (``#SBATCH`` directives, then ``options``), in the
    user's ``cwd`` with their ``environment`` (none of the web server's)."""
    if not isinstance(given, dict):
        raise BadRequest("'sbatch' must be an object with 'script' and 'cwd'")
    script, cwd = given.get("script"), given.get("cwd")
    argv, environ = given.get("options", []), given.get("environment", {})
    if not isinstance(script, str) or not script.startswith("#!"):
        raise BadRequest("'sbatch.script' must be a script whose first line starts with #!")
    if not isinstance(cwd, str) or not os.path.isabs(cwd):
        raise BadRequest("'sbatch.cwd' must be an absolute path")
    if not isinstance(argv, list) or not all(isinstance(word, str) for word in argv):
        raise BadRequest("'sbatch.options' must be an array of strings (sbatch's options)")
    if not isinstance(environ, dict) or not all(isinstance(value, str)
                                                for value in environ.values()):
        raise BadRequest("'sbatch.environment' must be an object of strings")
    table = options.JOB_OPTIONS + options.SBATCH_ONLY
    try:
        given_options, rest = options.parse("sbatch", argv, table)
        if rest:
            raise options.OptionError(f"unexpected argument '{rest[0]}' (the script is "
                                      "'sbatch.script')")
        values = options.script_options("sbatch", script, table, "sbatch.script")
        values.update(given_options)
        job_request = submission.JobRequest(values, "batch", [], "sbatch", script,
                                            submit_dir=cwd, environ=environ)
        with Client(uri, on_behalf_of=uid) as client:
            return submission.submit(client, job_request)
    except (options.OptionError, submission.SubmitError) as exc:
        raise BadRequest(f"sbatch: {exc}") from None


@routes.post("/api/v1/jobs/{id}/cancel")
async def cancel(request):
    job_id = _job_id(request)
    message = (await _body(request)).get("message", "") if request.can_read_body else ""
    if not isinstance(message, str):
        raise BadRequest("'message' must be a string")
    await _rpc(request, "job-manager.raise",
               {"id": job_id, "type": "cancel", "severity": 0, "note": message})
    return web.json_response({"id": job_id})


@routes.patch("/api/v1/jobs/{id}")
async def update(request):
    job_id = _job_id(request)
    body = await _body(request)
    urgency = body.get("urgency")
    if type(urgency) is not int or set(body) != {"urgency"}:
        raise BadRequest("the body must be {\"urgency\": N}, N an integer from 0 to 31")
    answer = await _rpc(request, "job-manager.urgency", {"id": job_id, "urgency": urgency})
    return web.json_response({"id": job_id, "urgency": urgency,
                              "old_urgency": answer["old_urgency"]})


@routes.get("/api/v1/nodes")
async def nodes(request):
    return web.json_response(await _rpc(request, "resource.list"))


@routes.get("/api/v1/queues")
async def queues(request):
    return web.json_response(await _rpc(request, "job-manager.queue-status"))


@routes.get("/api/v1/utilization")
async def utilization(request):
    return web.json_response({"samples": request.app["history"].samples()})
