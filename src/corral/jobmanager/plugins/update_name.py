"""``.update-name``: allow ``attributes.system.job.name`` updates (``corral job update ID
name=NEW``, Slurm's ``scontrol update JobId=ID JobName=NEW``) by the job's owner, as Flux's
``flux update`` allows: a name is a label, so pending and running jobs alike may change it.
"""


def _update(p, topic, args):
    name = args["value"]
    if type(name) is not str or not name:
        return p.error(args, "job name must be a non-empty string")
    return 0


def plugin_init(p):
    p.add_handler("job.update.attributes.system.job.name", _update)
