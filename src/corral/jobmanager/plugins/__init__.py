"""Builtin jobtap plugins, loaded at job-manager start in this order (flux-core's).

Each builtin is a small module that uses only the public `corral.jobtap` API (and the
jobspec and FSD helpers any plugin may use), exactly as an outside plugin would; the builtins
are that API's first users and its examples.  ``.update-queue`` comes last: flux-core's queue
code registers it after the others.
"""

from . import (
    begin_time,
    dependency_after,
    dependency_singleton,
    history,
    limit_duration,
    limit_job_size,
    post_event,
    priority_default,
    update_duration,
    update_name,
    update_queue,
    validate_duration,
)

#: name -> plugin_init, in load order (``.priority-default`` first of all, as in Flux).
BUILTINS = {
    ".priority-default": priority_default.plugin_init,
    ".limit-job-size": limit_job_size.plugin_init,
    ".limit-duration": limit_duration.plugin_init,
    ".dependency-after": dependency_after.plugin_init,
    ".dependency-singleton": dependency_singleton.plugin_init,
    ".begin-time": begin_time.plugin_init,
    ".validate-duration": validate_duration.plugin_init,
    ".update-duration": update_duration.plugin_init,
    ".update-name": update_name.plugin_init,
    ".history": history.plugin_init,
    ".post-event": post_event.plugin_init,
    ".update-queue": update_queue.plugin_init,
}
