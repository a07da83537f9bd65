"""The jobtap stack call: one topic, every plugin in load order, first failure stops.

This is the hot loop of the plugin system (flux-core's ``jobtap_stack_call``), kept apart from
loading and naming so that its cost is easy to see and measure.  For each plugin whose
handlers match the topic, its first matching handler runs; a negative return or an exception
is a failure that skips every later plugin (the host's ``failed_plugin`` names it, for the
message the caller sends); jobspec updates the plugin staged are posted as
one ``jobspec-update`` event right after it returns.  The result is -1 on failure, otherwise
the number of plugins that handled the topic.

It also runs a plugin's other callbacks (timers, service handlers, RPC continuations) with the
same guarantees: an exception is logged with the plugin's name and traceback and goes no
further, and a callback that holds the event loop too long is logged with plugin and topic.
How long a callback took is read with the host's ``callback_clock``: the wall clock in an
instance, the thread's CPU time in a simulation (see `JobtapHost`).
"""

import logging

log = logging.getLogger("corral.jobtap")

#: Topics whose callers read OUT ``errmsg``: an exception's text becomes the message there.
_ERRMSG_TOPIC_PREFIXES = ("job.validate", "job.create", "job.dependency.", "job.update.",
                          "conf.update")


def _check_slow(host, plugin, what, start):
    elapsed = host.callback_clock() - start
    if elapsed > host.slow_callback_threshold:
        log.warning("jobtap: %s: %s: callback held the event loop for %.0f ms",
                    plugin.display_name, what, elapsed * 1000)


def _failed_callback(plugin, topic, args, exc) -> int:
    log.error("jobtap: %s: %s: callback raised %s: %s", plugin.display_name, topic,
              type(exc).__name__, exc, exc_info=exc)
    if topic == "conf.update" and "errmsg" not in args.out:
        # Said to whoever loads the plugin or the configuration, who must learn which
        # plugin failed and that it failed rather than refused.
        args.out["errmsg"] = f"{plugin.display_name}: conf.update raised " \
                             f"{type(exc).__name__}: {exc}"
    elif topic.startswith(_ERRMSG_TOPIC_PREFIXES) and "errmsg" not in args.out:
        args.out["errmsg"] = str(exc) or type(exc).__name__
    return -1


def _checked_rc(plugin, topic, rc) -> int:
    """A callback's return value as 1 (success) or -1 (failure)."""
    if type(rc) is not int:
        log.error("jobtap: %s: %s: callback returned %r, expected an int or None",
                  plugin.display_name, topic, rc)
        return -1
    return -1 if rc < 0 else 1


def call_plugin(host, entry, topic, args) -> int:
    """Run one plugin's handler (an index entry) safely: exceptions and bad return values
    count as failure (-1)."""
    plugin, callback, arg, has_arg = entry
    start = host.callback_clock()
    try:
        rc = callback(plugin, topic, args, arg) if has_arg else callback(plugin, topic, args)
    except Exception as exc:
        rc = _failed_callback(plugin, topic, args, exc)
    _check_slow(host, plugin, topic, start)
    return 1 if rc is None or rc == 0 else _checked_rc(plugin, topic, rc)


def run_guarded(host, plugin, what, callback, *args):
    """Run a plugin callback that is not a topic handler; its result, or None if it raised."""
    start = host.callback_clock()
    try:
        return callback(*args)
    except Exception as exc:
        log.error("jobtap: %s: %s raised %s: %s", plugin.display_name, what,
                  type(exc).__name__, exc, exc_info=exc)
        return None
    finally:
        _check_slow(host, plugin, what, start)


def run_service(host, plugin, topic, callback, *args):
    """Run a plugin's service handler, timed; an exception is the caller's to answer."""
    start = host.callback_clock()
    try:
        return callback(*args)
    finally:
        _check_slow(host, plugin, topic, start)


def stack_call(host, entries, job, topic, args) -> int:
    """Call ``topic`` on ``entries`` (index entries, see `JobtapHost.entries`).

    `call_plugin`'s work is written out in the loop: this runs for every topic of every job,
    and two function calls per plugin were a third of the stack's cost.  One clock reading
    per callback serves as its end and the next one's start.  While the metrics endpoint is
    on, each callback's calls and seconds are added up in ``host.callback_times``
    (``{topic: {plugin: [calls, seconds]}}``), written out here too.
    """
    total = 0
    threshold = host.slow_callback_threshold
    times = host.callback_times
    if times is not None:
        times = times.get(topic) or times.setdefault(topic, {})
    clock = host.callback_clock
    host.current_jobs.append(job)
    start = clock()
    try:
        for plugin, callback, arg, has_arg in entries:
            try:
                if has_arg:
                    rc = callback(plugin, topic, args, arg)
                else:
                    rc = callback(plugin, topic, args)
            except Exception as exc:
                rc = _failed_callback(plugin, topic, args, exc)
            end = clock()
            if end - start > threshold:
                _check_slow(host, plugin, topic, start)
            if times is not None:
                record = times.get(plugin)
                if record is None:
                    record = times[plugin] = [0, 0.0]
                record[0] += 1
                record[1] += end - start
            start = end
            if rc is not None and rc != 0 and _checked_rc(plugin, topic, rc) < 0:
                log.debug("jobtap: %s: %s: rc=-1", plugin.display_name, topic)
                host.failed_plugin = plugin
                host.discard_jobspec_updates(job)
                return -1
            if host.staged_jobspec_updates and not host.post_jobspec_updates(job):
                log.error("jobtap: %s: %s: failed to apply jobspec updates",
                          plugin.display_name, topic)
                return -1
            total += 1
        return total
    finally:
        host.current_jobs.pop()
