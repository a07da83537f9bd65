"""Reads each running job through ``p.job_view`` and requeues its first run with
``p.job_requeue`` (corral's extensions to the handle), posting what it read as ``viewed``."""


def _run(p, topic, args):
    view = p.job_view(args["id"])
    try:
        view.restart_count = 99
        read_only = False
    except AttributeError:
        read_only = True
    p.event_post(view.id, "viewed", {
        "restart_count": view.restart_count, "nodelist": view.nodelist,
        "state": int(view.state), "userid": view.userid, "ntasks": view.ntasks,
        "read_only": read_only, "first_event": view.events()[0]["name"]})
    if view.restart_count == 0:
        p.job_requeue(view.id, "requeued by view_and_requeue", hold=True)
        p.event_post(view.id, "requeue-asked", {"pending": view.requeue_pending})
        p.raise_exception(view.id, "test", 0, "first run ended by view_and_requeue")
    return 0


def plugin_init(p):
    p.add_handler("job.state.run", _run)
    return 0
