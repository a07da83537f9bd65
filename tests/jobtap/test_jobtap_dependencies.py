"""Dependencies: flux-core checklist items 28-32 (t2212, t2270, t2271, t2277, t6773): the
grudge set, plugin-managed schemes, restart, ``.dependency-after`` and
``.dependency-singleton``."""

import errno
import textwrap

from jobtap_helpers import (
    as_guest,
    events,
    load,
    names,
    plugin,
    query,
    remove,
    rpc_error,
    spec,
    state,
    submit,
    until,
    wait,
)


def _release(client, job_id, description):
    client.rpc("job-manager.dependency-test.remove", {"id": job_id, "description": description})


def _descriptions(client, job_id, name) -> list[str]:
    return [event["context"]["description"] for event in events(client, job_id, name)]


def test_a_plugin_scheme_holds_the_job_until_the_plugin_releases_it(instance):
    """Item 28: ``dependency-add`` from ``job.dependency.test`` and from ``job.state.depend``;
    a service removes them; a plugin loaded later gets ``job.state.depend`` replayed."""
    with instance.client() as client:
        load(client, plugin("dependency_test.py"))
        job_id = submit(client, dependencies=["test:dependency-test"])
        wait(client, job_id, "dependency-add")
        assert state(client, job_id) == "DEPEND"
        _release(client, job_id, "dependency-test")
        wait(client, job_id)
        assert names(client, job_id)[:5] == [
            "submit", "dependency-add", "validate", "dependency-remove", "depend"]

        job_id = submit(client, setattr=["system.dependency-test=foo"])
        wait(client, job_id, "dependency-add")
        assert names(client, job_id)[:3] == ["submit", "validate", "dependency-add"]
        assert state(client, job_id) == "DEPEND"
        load(client, plugin("dependency_test.py"), remove="dependency_test.py")
        assert state(client, job_id) == "DEPEND"
        assert _descriptions(client, job_id, "dependency-add") == ["foo"]
        _release(client, job_id, "foo")
        wait(client, job_id)


def test_dependency_rules_at_submit(instance):
    """Item 29 and the grudge set: unknown, over-long and malformed schemes are rejected; a
    duplicate outstanding add is one event; add then remove in one callback releases; a
    description removed once cannot be added again (EEXIST)."""
    with instance.client() as client:
        load(client, plugin("dependency_test.py"))
        error = rpc_error(submit, client, dependencies=["nope:1"])
        assert (error.errno, error.strerror) == (
            errno.EINVAL, 'dependency scheme "nope" not supported')
        long_scheme = "x" * 101
        error = rpc_error(submit, client, dependencies=[f"{long_scheme}:1"])
        assert error.strerror == f"rejecting absurdly long dependency scheme: {long_scheme}"
        malformed = spec()
        malformed["attributes"]["system"]["dependencies"] = [{"scheme": "test"}]
        error = rpc_error(client.submit, malformed)
        assert error.strerror == ("jobspec: attributes.system.dependencies[0].value: "
                                  "required key is missing")

        job_id = submit(client, dependencies=["test:dup?twice=1", "test:dup"])
        wait(client, job_id, "dependency-add")
        assert _descriptions(client, job_id, "dependency-add") == ["dup"]
        assert state(client, job_id) == "DEPEND"
        _release(client, job_id, "dup")
        wait(client, job_id)

        job_id = submit(client, dependencies=["test:gone?remove=1"])
        wait(client, job_id)
        assert names(client, job_id)[:4] == [
            "submit", "dependency-add", "dependency-remove", "validate"]

        job_id = submit(client, dependencies=["test:a", "test:b"])
        wait(client, job_id, "dependency-add")
        _release(client, job_id, "a")
        assert state(client, job_id) == "DEPEND"
        error = rpc_error(_release, client, job_id, "a")
        assert error.errno == errno.ENOENT
        _release(client, job_id, "b")
        wait(client, job_id)


def test_outstanding_dependencies_survive_restart(corral_kit):
    """Item 30: dependencies are kept across restarts; a scheme no loaded plugin handles at
    restart is a severity-4 ``dependency`` exception; loading the plugin re-runs
    ``job.dependency.*`` for it; with the plugin in the configuration a restart adds no
    second ``dependency-add`` (t6773).  In the plugin test kit, which restarts the job
    manager on its store (on an instance: `test_an_anyof_dependency_waits_on_across_a_
    restart`, tests/integration/test_restart_dependencies.py)."""
    kit = corral_kit()
    load(kit, plugin("dependency_test.py"))
    lost = kit.submit(dependencies=["test:lost"])
    kit.wait(lost, "dependency-add")
    kit.restart()
    exception = kit.wait(lost, "exception")["context"]
    assert (exception["type"], exception["severity"], exception["note"]) == (
        "dependency", 4,
        'dependency scheme "test" not supported (job may be stuck in DEPEND state)')
    assert state(kit, lost) == "DEPEND"
    load(kit, plugin("dependency_test.py"))
    assert _descriptions(kit, lost, "dependency-add") == ["lost"]
    _release(kit, lost, "lost")
    kit.wait(lost)

    kit = corral_kit(config=textwrap.dedent(f"""\
        [[job-manager.plugins]]
        load = "{plugin('dependency_test.py')}"
        """))
    kept = kit.submit(dependencies=["test:kept"])
    kit.wait(kept, "dependency-add")
    kit.restart()
    kit.restart()
    assert state(kit, kept) == "DEPEND"
    assert _descriptions(kit, kept, "dependency-add") == ["kept"]
    assert events(kit, kept, "exception") == []
    _release(kit, kept, "kept")
    kit.wait(kept)


def test_after_dependencies(make_instance):
    """Item 31: ``afterstart`` (and deprecated ``after``), ``afterany``, ``afterok``,
    ``afternotok``, ``afterexcept``, against running, finished and never-started jobs."""
    instance = make_instance()
    with instance.client() as client:
        error = rpc_error(submit, client, dependencies=["afterany:1234"])
        assert error.strerror == "dependency: afterany: id 1234: job not found"
        for value in ("-1", "bar"):
            error = rpc_error(submit, client, dependencies=[f"afterok:{value}"])
            assert error.strerror == f'dependency: afterok: "{value}" is not a valid jobid'

        held = submit(client, urgency=0, run="60s")
        wait(client, held, "priority")
        started = submit(client, dependencies=[f"afterstart:{held}"])
        deprecated = submit(client, dependencies=[f"after:{held}"])
        any_ = submit(client, dependencies=[f"afterany:{held}"])
        ok = submit(client, dependencies=[f"afterok:{held}"])
        notok = submit(client, dependencies=[f"afternotok:{held}"])
        exc = submit(client, dependencies=[f"afterexcept:{held}"])
        for job_id in (started, deprecated, any_, ok, notok, exc):
            wait(client, job_id, "dependency-add")
            assert state(client, job_id) == "DEPEND"
        warning = events(client, deprecated, "exception")[0]["context"]
        assert (warning["type"], warning["severity"], warning["note"]) == (
            "dependency", 3, 'dependency scheme "after" is deprecated, use "afterstart"')
        assert {entry["depid"] for entry in query(client, ".dependency-after")[
            "dependencies"]} == {started, deprecated, any_, ok, notok, exc}
        assert query(client, ".dependency-after")["dependencies"][0] == {
            "id": held, "depid": started, "type": "after-start",
            "description": f"after-start={held}"}

        client.set_urgency(held, 16)
        wait(client, started)
        wait(client, deprecated)
        assert state(client, any_) == "DEPEND"
        client.cancel(held)  # ends with an exception after it started
        for job_id in (any_, notok, exc):
            wait(client, job_id)
            assert client.job(job_id)["result"] == 1
        exception = wait(client, ok, "exception")["context"]
        assert (exception["type"], exception["severity"], exception["note"]) == (
            "dependency", 0, f"dependency after-success={held} can never be satisfied")
        wait(client, ok)
        assert query(client, ".dependency-after")["dependencies"] == []

        # against inactive jobs: judged at submit
        assert client.job(held)["result"] == 4
        wait(client, submit(client, dependencies=[f"afterany:{held}"]))
        wait(client, submit(client, dependencies=[f"afterexcept:{held}"]))
        error = rpc_error(submit, client, dependencies=[f"afterok:{held}"])
        assert error.strerror == f"dependency: afterok: job {held} failed or was canceled"
        good = submit(client)
        wait(client, good)
        error = rpc_error(submit, client, dependencies=[f"afternotok:{good}"])
        assert error.strerror == f"dependency: afternotok: job {good} succeeded"
        error = rpc_error(submit, client, dependencies=[f"afterexcept:{good}"])
        assert error.strerror == (f"dependency: afterexcept: job {good} did not end with an "
                                  "exception")
        wait(client, submit(client, dependencies=[f"afterok:{good}"]))

        # an antecedent that never started satisfies only afterany
        never = submit(client, urgency=0)
        wait(client, never, "priority")
        on_any = submit(client, dependencies=[f"afterany:{never}"])
        on_ok = submit(client, dependencies=[f"afterok:{never}"])
        wait(client, on_ok, "dependency-add")
        client.cancel(never)
        wait(client, on_any)
        assert client.job(on_any)["result"] == 1
        exception = wait(client, on_ok, "exception")["context"]
        assert exception["note"] == f"dependency after-success={never} job never started"
        error = rpc_error(submit, client, dependencies=[f"afterstart:{never}"])
        assert error.strerror == f"dependency: after: {never} never started"


def test_anyof_is_released_by_its_first_member_satisfied(instance):
    """``anyof`` (Slurm's ``?`` lists): one member satisfied releases the job and the others
    stop waiting; the job fails only when no member can be satisfied."""
    with instance.client() as client:
        first = submit(client, urgency=0, run="60s")
        second = submit(client, urgency=0)
        for job_id in (first, second):
            wait(client, job_id, "priority")
        either = submit(client, dependencies=[f"anyof:afterok:{first},afterany:{second}"])
        both_ok = submit(client, dependencies=[f"anyof:afterok:{first},afterok:{second}"])
        wait(client, either, "dependency-add")
        assert _descriptions(client, either, "dependency-add") == [
            f"any-of=after-success={first},after-finish={second}"]
        assert sorted((entry["depid"], entry["id"]) for entry in query(
            client, ".dependency-after")["dependencies"]) == sorted(
            [(either, first), (either, second), (both_ok, first), (both_ok, second)])

        client.cancel(second)  # never started: satisfies afterany only
        wait(client, either)
        assert client.job(either)["result"] == 1  # COMPLETED
        assert state(client, both_ok) == "DEPEND"
        assert [(entry["depid"], entry["id"]) for entry in query(
            client, ".dependency-after")["dependencies"]] == [(both_ok, first)]

        client.cancel(first)
        exception = wait(client, both_ok, "exception")["context"]
        assert exception["note"] == (f"dependency any-of=after-success={first},"
                                     f"after-success={second} can never be satisfied")
        assert query(client, ".dependency-after")["dependencies"] == []

        # judged at submit against inactive jobs
        wait(client, submit(client, dependencies=[f"anyof:afterok:{first},afterany:{first}"]))
        error = rpc_error(submit, client,
                          dependencies=[f"anyof:afterok:{first},afterok:{second}"])
        assert error.strerror == (
            f"dependency: anyof: none can be satisfied (dependency: after: {first} never "
            f"started; dependency: after: {second} never started)")
        error = rpc_error(submit, client, dependencies=[f"anyof:afterok:{first},nope:2"])
        assert error.strerror == "dependency: anyof: invalid dependency scheme: nope"
        error = rpc_error(submit, client, dependencies=[f"anyof:afterok:{first},afterok:x"])
        assert error.strerror == 'dependency: afterok: "x" is not a valid jobid'


def test_after_dependency_on_another_users_job_is_denied(guest_instance):
    instance = guest_instance()
    with instance.client() as client:
        owner_job = submit(client, urgency=0)
    error = rpc_error(as_guest, instance.uri,
                      lambda client: client.submit(spec(dependencies=[
                          f"afterany:{owner_job}"])))
    assert error.strerror == f"afterany: Permission denied for job {owner_job}"


def test_a_job_canceled_while_waiting_is_forgotten_by_its_antecedent(instance):
    with instance.client() as client:
        held = submit(client, urgency=0)
        wait(client, held, "priority")
        dependent = submit(client, dependencies=[f"afterok:{held}"])
        wait(client, dependent, "dependency-add")
        client.cancel(dependent)
        wait(client, dependent)
        assert query(client, ".dependency-after")["dependencies"] == []
        client.set_urgency(held, 16)
        wait(client, held)
        assert events(client, dependent, "dependency-remove") == []


def test_singleton_jobs_run_one_at_a_time_per_user_and_name(instance):
    """Item 32: a singleton needs a job name; it waits while another active job of the same
    user and name exists (a held one too); a different name runs at once."""
    with instance.client() as client:
        error = rpc_error(submit, client, dependencies=["singleton:1"])
        assert error.strerror == "singleton jobs require a job name"
        held = submit(client, urgency=0, name="s")
        wait(client, held, "priority")
        first = submit(client, name="s", dependencies=["singleton:1"])
        second = submit(client, name="s", dependencies=["singleton:1"])
        other = submit(client, name="t", dependencies=["singleton:1"])
        wait(client, other)
        for job_id in (first, second):
            wait(client, job_id, "dependency-add")
            assert state(client, job_id) == "DEPEND"
        assert query(client, ".dependency-singleton")["0:s"] == {
            "count": 3, "singletons": [first, second]}
        client.cancel(held)
        wait(client, first)
        wait(client, second)
        first_end = events(client, first, "clean")[0]["timestamp"]
        assert events(client, second, "depend")[0]["timestamp"] >= first_end
        until(lambda: "0:s" not in query(client, ".dependency-singleton"))
        remove(client, ".dependency-singleton")
        error = rpc_error(submit, client, name="s", dependencies=["singleton:1"])
        assert error.strerror == 'dependency scheme "singleton" not supported'


def test_after_dependencies_on_jobs_that_ended_before_a_restart(instance):
    """An antecedent reloaded from its summary at restart is still known to have run."""
    with instance.client() as client:
        good = submit(client)
        wait(client, good)
    instance.restart()
    with instance.client() as client:
        wait(client, submit(client, dependencies=[f"afterok:{good}"]))
        wait(client, submit(client, dependencies=[f"afterstart:{good}"]))
        error = rpc_error(submit, client, dependencies=[f"afternotok:{good}"])
        assert error.strerror == f"dependency: afternotok: job {good} succeeded"


def test_an_anyof_dependency_waits_on_across_a_restart(instance):
    with instance.client() as client:
        first = submit(client, urgency=0)
        second = submit(client, urgency=0)
        for job_id in (first, second):
            wait(client, job_id, "priority")
        either = submit(client, dependencies=[f"anyof:afterok:{first},afterok:{second}"])
        wait(client, either, "dependency-add")
    instance.restart()
    with instance.client() as client:
        assert state(client, either) == "DEPEND"
        assert events(client, either, "exception") == []
        assert len(_descriptions(client, either, "dependency-add")) == 1
        client.set_urgency(second, 16)
        wait(client, either)
        assert client.job(either)["result"] == 1  # COMPLETED
        assert query(client, ".dependency-after")["dependencies"] == []
