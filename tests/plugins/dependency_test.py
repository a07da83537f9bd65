"""flux-core's dependency-test.so in Python: scheme ``test`` adds its value as a dependency
(``?remove=1`` removes it again in the same callback, ``?twice=1`` adds it twice);
``attributes.system.dependency-test`` adds one from ``job.state.depend``; the service
``job-manager.dependency-test.remove {id, description}`` removes one."""

from corral.jobtap import CURRENT_JOB


def depend(p, topic, args):
    dependency = args["dependency"]
    description = dependency["value"]
    p.dependency_add(CURRENT_JOB, description)
    if dependency.get("twice"):
        p.dependency_add(CURRENT_JOB, description)
    if dependency.get("remove"):
        p.dependency_remove(CURRENT_JOB, description)


def state_depend(p, topic, args):
    description = args["jobspec"]["attributes"]["system"].get("dependency-test")
    if description:
        p.dependency_add(CURRENT_JOB, description)


def plugin_init(p):
    p.set_name("dependency-test")

    def remove(h, msg):
        try:
            p.dependency_remove(msg.payload["id"], msg.payload["description"])
        except OSError as exc:
            h.respond_error(msg, exc.errno, exc.strerror)
            return
        h.respond(msg, {})

    p.add_handler("job.dependency.test", depend)
    p.add_handler("job.state.depend", state_depend)
    p.service_register("remove", remove)
