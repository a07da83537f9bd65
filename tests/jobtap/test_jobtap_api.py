"""The plugin API: flux-core checklist items 21-27 and 36 (args, subscriptions, aux, the
errno contracts of jobtap_api.so, event posting, `call`, alloc-bypass), jobspec updates, and
the seed calls `get_flux` and `service_register`."""

import errno
import json

from jobtap_helpers import (
    as_guest,
    dmesg,
    events,
    json_lines,
    load,
    names,
    plugin,
    remove,
    rpc_error,
    spec,
    submit,
    until,
    wait,
)

STANDARD_KEYS = ["id", "jobspec", "priority", "state", "t_submit", "urgency", "userid"]


def test_every_job_callback_gets_the_standard_args(instance):
    """Item 21 (args.so): the callbacks of one job, in order, each with flux-core's IN keys
    and types; ``job.state.*`` adds ``entry`` and ``prev_state``; ``R`` once allocated,
    ``end_event`` once ending."""
    with instance.client() as client:
        load(client, plugin("args_check.py"))
        job_id = submit(client)
        wait(client, job_id)
        until(lambda: len(json_lines(dmesg(client), "args-check: ")) == 11)
        seen = json_lines(dmesg(client), "args-check: ")
    state_keys = sorted(STANDARD_KEYS + ["entry", "prev_state"])
    run_keys = sorted(state_keys + ["R"])
    end_keys = sorted(run_keys + ["end_event"])
    assert [(item["topic"], item["keys"], item["state"]) for item in seen] == [
        ("job.create", STANDARD_KEYS, 1),
        ("job.validate", STANDARD_KEYS, 1),
        ("job.new", STANDARD_KEYS, 1),
        ("job.state.depend", state_keys, 2),
        ("job.state.priority", state_keys, 4),
        ("job.state.sched", state_keys, 8),
        ("job.state.run", run_keys, 16),
        ("job.state.cleanup", end_keys, 32),
        ("job.state.inactive", end_keys, 64),
        ("job.inactive-add", sorted(STANDARD_KEYS + ["R", "end_event"]), 64),
        ("job.destroy", sorted(STANDARD_KEYS + ["R", "end_event"]), 64),
    ]
    assert {item["result"] for item in seen} == {"OK"}


def test_subscribed_plugins_get_job_events_before_state_callbacks(instance):
    """Item 22 (subscribe.so): ``job.event.<name>`` for each event after subscribing, before
    ``job.state.*`` of the same event; `job_event_posted`; nothing after unsubscribing; a
    failing event callback does not matter."""
    with instance.client() as client:
        load(client, plugin("subscribe_check.py"))
        job_id = submit(client)
        wait(client, job_id)
        assert events(client, job_id, "exception") == []
        until(lambda: any(item["topic"] == "job.state.inactive"
                          for item in json_lines(dmesg(client), "subscribe-check: ")))
        seen = [(item["topic"], item.get("entry"))
                for item in json_lines(dmesg(client), "subscribe-check: ")
                if item["topic"] != "posted"]
        posted = [item for item in json_lines(dmesg(client), "subscribe-check: ")
                  if item["topic"] == "posted"]
        log = "\n".join(dmesg(client))
    assert seen == [
        ("job.event.validate", "validate"), ("job.state.depend", None),
        ("job.event.depend", "depend"), ("job.state.priority", None),
        ("job.event.priority", "priority"), ("job.state.sched", None),
        ("job.event.alloc", "alloc"), ("job.state.run", None),
        ("job.event.start", "start"),
        ("job.state.cleanup", None), ("job.state.inactive", None),
    ]
    assert [(item["start"], item["finish"]) for item in posted] == [(True, False)]
    assert "job.event.alloc: callback raised RuntimeError: a failing job.event callback" in log


def test_job_aux_destructors_run_at_inactive_and_at_removal(instance, tmp_path):
    """Item 23 (job_aux.so): per-plugin values (a copy under another name keeps its own),
    destructors on overwrite, at INACTIVE, and for live jobs and plugin aux at removal."""
    copy = tmp_path / "job_aux_copy.py"
    copy.write_text(open(plugin("job_aux_check.py")).read())
    with instance.client() as client:
        load(client, plugin("job_aux_check.py"))
        load(client, str(copy))
        done = submit(client)
        wait(client, done)
        live = submit(client, run="60s")
        wait(client, live, "start")
        log = "\n".join(dmesg(client))
        for name in ("job_aux_check.py", "job_aux_copy.py"):
            assert f"job-aux: {name}: job {done} has {done}-second" in log
            for value in (f"{done}-first", f"{done}-second", f"{done}-anonymous"):
                assert f"job-aux: {name}: test destructor invoked for {value}" in log
            assert f"test destructor invoked for {live}-second" not in log
        remove(client, "job_aux_check.py")
        log = "\n".join(dmesg(client))
        for value in (f"{live}-second", f"{live}-anonymous", "job_aux_check.py-global"):
            assert f"job-aux: job_aux_check.py: test destructor invoked for {value}" in log
        assert "job_aux_copy.py: test destructor invoked for " + f"{live}-second" not in log
        client.cancel(live)
        wait(client, live)
        until(lambda: f"job_aux_copy.py: test destructor invoked for {live}-second"
              in "\n".join(dmesg(client)))


def test_api_errno_contracts_event_posting_and_flags(instance):
    """Items 24-25 (jobtap_api.so): the errno of every misuse, in every callback; events
    posted from validate, new, depend, priority, run and cleanup; a ``debug`` flag set from
    ``job.state.depend`` shows the alloc request; `job_lookup` of another job."""
    with instance.client() as client:
        load(client, plugin("api_check.py"))
        other = submit(client, run="60s")
        wait(client, other, "start")
        posting = {state: submit(client, setattr=[f"system.{state}.post-event=testevent"])
                   for state in ("validate", "new", "depend", "priority", "run", "cleanup")}
        flagged = submit(client, setattr=["system.depend.set_flag=debug",
                                          f"system.lookup-id={other}"])
        for job_id in [*posting.values(), flagged]:
            wait(client, job_id)
            assert events(client, job_id, "exception") == []
        for job_id in posting.values():
            assert [e["context"] for e in events(client, job_id, "testevent")] == [
                {"test_context": "yes"}]
        assert names(client, posting["validate"])[:3] == ["submit", "testevent", "validate"]
        cleanup_names = names(client, posting["cleanup"])
        assert cleanup_names.index("testevent") == cleanup_names.index("finish") + 1
        flags = events(client, flagged, "set-flags")
        assert [event["context"] for event in flags] == [{"flags": ["debug"]}]
        assert len(events(client, flagged, "debug.alloc-request")) == 1
        client.cancel(other)
        wait(client, other)
        assert [e["context"]["type"] for e in events(client, other, "exception")] == [
            "cancel"]


def test_get_job_result_for_each_way_a_job_ends(instance):
    """Item 24: COMPLETED, FAILED, TIMEOUT and CANCELED from the end event, checked by the
    plugin in CLEANUP (a mismatch would be a ``test`` exception)."""
    with instance.client() as client:
        load(client, plugin("api_check.py"))
        completed = submit(client, setattr=["system.expected-result=completed"])
        failed = client.submit(spec(["false"], run=None,
                                    setattr=["system.expected-result=failed"]))
        timeout = submit(client, run="10s", duration="0.1s",
                         setattr=["system.expected-result=timeout"])
        canceled = submit(client, urgency=0, setattr=["system.expected-result=canceled"])
        wait(client, canceled, "priority")
        client.cancel(canceled)
        for job_id, result in ((completed, 1), (failed, 2), (timeout, 8), (canceled, 4)):
            wait(client, job_id)
            assert client.job(job_id)["result"] == result
            assert [e for e in events(client, job_id, "exception")
                    if e["context"]["type"] == "test"] == []


def test_call_reaches_the_whole_stack_and_returns_its_out_args(instance):
    """Item 26: the callee's OUT value is visible to the caller."""
    with instance.client() as client:
        load(client, plugin("callee.py"))
        load(client, plugin("caller.py"))
        job_id = submit(client)
        wait(client, job_id)
        assert [e["context"] for e in events(client, job_id, "call-result")] == [
            {"rc": 1, "out": {"value": 42, "seen": 1}}]


def test_alloc_bypass_runs_a_job_on_resources_the_scheduler_did_not_give(make_instance):
    """Item 36 (alloc-bypass.so): a job flagged ``alloc-bypass`` gets its R from a plugin in
    ``job.state.sched`` and runs while the scheduler's only node is taken."""
    instance = make_instance(test_size=1)
    with instance.client() as client:
        load(client, plugin("alloc_bypass.py"))
        blocker = submit(client, run="60s", nnodes=1, exclusive=True)
        wait(client, blocker, "start")
        R = {"version": 1, "execution": {"R_lite": [{"rank": "0", "children": {"core": "0"}}],
                                         "nodelist": ["node0"], "starttime": 0,
                                         "expiration": 0}}
        bypass = client.submit(spec(setattr=[f"system.alloc-bypass.R={json.dumps(R)}"]))
        wait(client, bypass)
        assert names(client, bypass) == [
            "submit", "set-flags", "validate", "depend", "priority", "alloc", "start",
            "finish", "release", "free", "clean"]
        assert events(client, bypass, "alloc")[0]["context"] == {"bypass": True}
        assert client.job_info(bypass, "R")["R"]["execution"]["R_lite"] == R[
            "execution"]["R_lite"]
        client.cancel(blocker)


def test_jobspec_updates_are_staged_per_callback_and_posted_once(instance):
    """Two updates staged in one callback are one ``jobspec-update``; updates
    are refused once the job runs; `jobspec_update_id` updates another job (not the current
    one) and sends a SCHED job back through PRIORITY; ``job.update`` sees the update."""
    with instance.client() as client:
        load(client, plugin("jobspec_update_check.py"))
        job_id = submit(client, name="old")
        wait(client, job_id)
        assert [e["context"] for e in events(client, job_id, "jobspec-update")] == [
            {"attributes.system.update-test": "staged", "attributes.system.job.name": "new"}]
        assert names(client, job_id)[:3] == ["submit", "jobspec-update", "validate"]
        assert client.job(job_id)["name"] == "new"
        log = "\n".join(dmesg(client))
        assert "jobspec-update-check: run update refused: EINVAL" in log
        assert ('jobspec-update-check: job.update {"attributes.system.update-test": "staged", '
                '"attributes.system.job.name": "new"} name=new') in log

        held = submit(client, urgency=0)
        wait(client, held, "priority")
        client.rpc("job-manager.jobspec-update-check.update",
                   {"id": held, "update": {"attributes.system.job.name": "async"}})
        until(lambda: names(client, held)[-2:] == ["jobspec-update", "priority"])
        assert client.job(held)["name"] == "async"
        assert [e["context"]["priority"] for e in events(client, held, "priority")] == [0, 0]
        error = rpc_error(client.rpc, "job-manager.jobspec-update-check.update",
                          {"id": held, "update": {"nope.x": 1}})
        assert error.errno == errno.EINVAL
        error = rpc_error(client.rpc, "job-manager.jobspec-update-check.update",
                          {"id": held, "update": {"resources": "not a list"}})
        assert error.errno == errno.EINVAL
        assert "jobspec update would make the jobspec invalid" in error.strerror
        error = rpc_error(client.rpc, "job-manager.jobspec-update-check.update",
                          {"current": True, "update": {"attributes.system.x": 1}})
        assert error.errno == errno.EINVAL
        client.cancel(held)


def test_get_flux_and_service_register_as_the_seed_defines_them(guest_instance):
    """The seed calls: ``get_flux`` gives a Handle (EINVAL for anything but a plugin);
    ``service_register`` fails with EINVAL before the plugin has a name, registers
    ``job-manager.<name>.<method>``, owner-only unless a rolemask says otherwise."""
    instance = guest_instance()
    with instance.client() as client:
        load(client, plugin("service_check.py"))
        answer = client.rpc("job-manager.service-check.owner")
        assert answer == {"early": "EINVAL", "not_a_plugin": "EINVAL", "handle": True,
                          "same": True, "userid": 0, "extra": "for the owner"}
        assert "job-manager.service-check.early" not in "\n".join(dmesg(client))
    guest_answer = as_guest(instance.uri,
                            lambda client: client.rpc("job-manager.service-check.anyone"))
    assert guest_answer["extra"] == "for anyone" and guest_answer["userid"] != 0
    error = rpc_error(as_guest, instance.uri,
                      lambda client: client.rpc("job-manager.service-check.owner"))
    assert (error.errno, error.strerror) == (errno.EPERM, "Request requires owner credentials")
    with instance.client() as client:
        remove(client, "service_check.py")
        error = rpc_error(client.rpc, "job-manager.service-check.owner")
        assert error.errno == errno.ENOSYS


def test_out_annotations_merge_and_out_R_is_refused_outside_sched(instance):
    """§1.3 and rule 14: annotations merge recursively, ``None`` deletes a key; ``R`` is
    only taken in ``job.state.sched``."""
    with instance.client() as client:
        load(client, plugin("annotate.py"))
        job_id = submit(client)
        wait(client, job_id)
        annotations = client.job(job_id)["annotations"]
        assert {key: annotations[key] for key in ("new", "b")} == {"new": 1, "b": {"d": 3}}
        assert "a" not in annotations
        assert f"jobtap: job.state.run: {job_id}: R may only be set in SCHED state" in "\n".join(
            dmesg(client))
        assert "annotations" not in names(client, job_id)
