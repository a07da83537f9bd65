"""Jobspec updates: applying ``jobspec-update`` contexts to the job manager's copy.

Keys are dotted paths under ``attributes``, ``resources`` or ``tasks``
(``"attributes.system.duration": 3600``); the job's resource request is recomputed so that the
scheduler and exec see the update.
"""

from .. import jobspec as jobspec_module


def apply_jobspec_updates(job, updates: dict):
    spec = job.jobspec
    for key, value in updates.items():
        path = key.split(".")
        if path[0] not in ("attributes", "resources", "tasks"):
            raise ValueError(f"jobspec update key '{key}' is not under attributes, "
                             "resources or tasks")
        node = spec
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    request = jobspec_module.validate(spec)
    job.request = request
    job.name = request.name
    job.queue = request.queue
    job.ntasks = request.ntasks
    job.nnodes_requested = request.nnodes
