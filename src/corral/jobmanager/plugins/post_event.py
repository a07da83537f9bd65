"""``.post-event``: post an event to a job by hand (``job-manager.post-event.post``, owner
only): ``{"id": ID, "name": NAME, "context": {...}}``.  The event goes through the real state
machine, exactly as a plugin's `event_post` does."""

import errno


def _post(h, msg, p):
    request = msg.payload if isinstance(msg.payload, dict) else {}
    job_id, name = request.get("id"), request.get("name")
    if type(job_id) is not int or not isinstance(name, str):
        h.respond_error(msg, errno.EPROTO, "post needs an integer id and an event name")
        return
    try:
        p.event_post(job_id, name, request.get("context"))
    except OSError as exc:
        h.respond_error(msg, exc.errno, exc.strerror)
        return
    h.respond(msg)


def plugin_init(p):
    p.service_register("post", _post, p)
