"""A plugin that fails in every way a plugin can, each on request, to show that none of it
reaches the controller: a callback that raises (``system.misbehave=raise`` raises in
``job.state.run``), one that holds the event loop (``system.misbehave=slow``), a service
that raises, one that answers from a coroutine that raises, a timer whose callback raises,
an RPC continuation that raises, a spawned task that raises, and a destructor that raises
when the plugin is removed."""

import time


def plugin_init(p):
    p.set_name("misbehave")

    def run(p, topic, args):
        mode = args["jobspec"]["attributes"]["system"].get("misbehave")
        if mode == "raise":
            raise RuntimeError("run callback failed on purpose")
        if mode == "slow":
            time.sleep(0.3)
        if mode == "bad-return":
            return "yes"
        return 0

    def service_raises(h, msg):
        raise ValueError("service failed on purpose")

    async def service_async(h, msg):
        raise KeyError("coroutine failed on purpose")

    def arm_timer(h, msg):
        h.timer(0.01, lambda timer: 1 / 0)
        h.respond(msg, {})

    def arm_continuation(h, msg):
        h.rpc("job-manager.getinfo").then(lambda future: [][1])
        h.respond(msg, {})

    def spawn_failing(h, msg):
        async def fails():
            raise OSError("task failed on purpose")

        h.spawn(fails())
        h.respond(msg, {})

    def destructor(value):
        raise RuntimeError("destructor failed on purpose")

    p.add_handler("job.state.run", run)
    p.service_register("raises", service_raises)
    p.service_register("async", service_async)
    p.service_register("timer", arm_timer)
    p.service_register("continuation", arm_continuation)
    p.service_register("spawn", spawn_failing)
    p.aux_set("doomed", "value", destructor)
