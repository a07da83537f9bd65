"""Jobspec version 1: validate, build, parse_dependency, load and redact."""

import copy
import datetime
import json
import time

import pytest

from corral import jobspec
from corral.jobspec import JobspecError

SLOT_JOBSPEC = {
    "resources": [
        {"type": "slot", "count": 4, "label": "task", "with": [{"type": "core", "count": 2}]}
    ],
    "tasks": [{"command": ["app", "-v"], "slot": "task", "count": {"per_slot": 1}}],
    "attributes": {"system": {"duration": 0}},
    "version": 1,
}

NODE_JOBSPEC = {  # the example of RFC 25: 4 nodes, 1 slot of 2 cores each, 1 task per slot
    "version": 1,
    "resources": [
        {
            "type": "node",
            "count": 4,
            "with": [
                {
                    "type": "slot",
                    "count": 1,
                    "label": "default",
                    "with": [{"type": "core", "count": 2}],
                }
            ],
        }
    ],
    "tasks": [{"command": ["app"], "slot": "default", "count": {"per_slot": 1}}],
    "attributes": {"system": {"duration": 3600.0}},
}


def slot_jobspec(**system):
    spec = copy.deepcopy(SLOT_JOBSPEC)
    spec["attributes"]["system"].update(system)
    return spec


def assert_invalid(spec, message):
    with pytest.raises(JobspecError) as caught:
        jobspec.validate(spec)
    assert str(caught.value) == message


# --- validate: what it returns --------------------------------------------------------------


def test_validate_sums_up_a_slot_jobspec():
    request = jobspec.validate(slot_jobspec())
    assert request == jobspec.Request(
        nnodes=0, nslots=4, cores_per_slot=2, gpus_per_slot=0, exclusive=False, ntasks=4,
        duration=0.0, command=("app", "-v"), cwd=None, queue=None, name="app", dependencies=(),
        stdout_path=None, stderr_path=None, per_resource=None, account=None, qos=None,
        comment=None, requeue=True, constraints=None, queues=None,
    )
    assert request.slots_per_node == 4


def test_a_job_may_name_several_queues_the_first_being_its_own():
    request = jobspec.validate(slot_jobspec(queue="debug,batch"))
    assert (request.queue, request.queues) == ("debug", ("debug", "batch"))
    assert jobspec.validate(slot_jobspec(queue="debug")).queues is None
    for bad in ("debug,", "a,,b", "a,a"):
        assert_invalid(slot_jobspec(queue=bad),
                       "jobspec: attributes.system.queue: must be a queue name or a list of "
                       f"distinct names separated by commas, got '{bad}'")


def test_validate_counts_slots_on_every_node_like_flux():
    request = jobspec.validate(NODE_JOBSPEC)
    assert (request.nnodes, request.nslots, request.slots_per_node) == (4, 4, 1)
    assert request.ntasks == 4
    assert request.duration == 3600.0
    assert request.exclusive is False


def test_validate_reads_exclusive_nodes_and_gpus():
    spec = copy.deepcopy(NODE_JOBSPEC)
    spec["resources"][0]["exclusive"] = True
    spec["resources"][0]["with"][0]["with"].append({"type": "gpu", "count": 2})
    request = jobspec.validate(spec)
    assert request.exclusive is True
    assert request.gpus_per_slot == 2


def test_validate_multiplies_per_slot_by_the_slot_count():
    spec = slot_jobspec()
    spec["tasks"][0]["count"] = {"per_slot": 3}
    assert jobspec.validate(spec).ntasks == 12


def test_validate_takes_total_as_the_task_count():
    spec = copy.deepcopy(NODE_JOBSPEC)
    spec["resources"][0]["with"][0]["count"] = 2
    spec["tasks"][0]["count"] = {"total": 5}
    assert jobspec.validate(spec).ntasks == 5


def test_validate_reads_the_system_attributes_the_controller_uses():
    spec = slot_jobspec(
        cwd="/home/alice", queue="debug", account="physics", qos="high", comment="run 7",
        requeue=False, job={"name": "sim"}, constraints={"properties": ["ssd"]},
        dependencies=[{"scheme": "afterok", "value": "12"}],
        environment={"PATH": "/bin", "UNSET_ME": None},
        shell={"options": {"output": {"stdout": {"type": "file", "path": "out.{{id}}"},
                                      "stderr": {"type": "file", "path": "err"}}}},
        plugin_specific={"anything": [1, 2]},
    )
    request = jobspec.validate(spec)
    assert (request.cwd, request.queue, request.name) == ("/home/alice", "debug", "sim")
    assert (request.account, request.qos, request.comment) == ("physics", "high", "run 7")
    assert request.requeue is False
    assert request.dependencies == ({"scheme": "afterok", "value": "12"},)
    assert (request.stdout_path, request.stderr_path) == ("out.{{id}}", "err")


@pytest.mark.parametrize(
    ("argument0", "name"),
    [("/usr/bin/hostname", "hostname"), ("hostname", "hostname"), ("dir/", "dir/")],
)
def test_validate_names_a_job_after_its_command_like_flux(argument0, name):
    spec = slot_jobspec()
    spec["tasks"][0]["command"] = [argument0]
    assert jobspec.validate(spec).name == name


@pytest.mark.parametrize(
    ("resources_top", "per_resource", "ntasks"),
    [
        ("node", {"type": "node", "count": 2}, 8),
        ("node", {"type": "node"}, 4),
        ("node", {"type": "core", "count": 2}, 0),  # known once cores are allocated
        ("slot", {"type": "core", "count": 2}, 16),
        ("slot", {"type": "node", "count": 2}, 4),  # no nodes: falls back to the task count
    ],
)
def test_validate_counts_tasks_per_resource_like_flux_job_list(resources_top, per_resource,
                                                               ntasks):
    spec = copy.deepcopy(NODE_JOBSPEC if resources_top == "node" else SLOT_JOBSPEC)
    spec["attributes"]["system"]["shell"] = {"options": {"per-resource": per_resource}}
    request = jobspec.validate(spec)
    assert request.ntasks == ntasks
    assert request.per_resource == (per_resource["type"], per_resource.get("count", 1))


def test_validate_accepts_a_jobspec_loaded_from_rfc_25_yaml():
    text = """
version: 1
resources:
  - type: slot
    count: 10
    label: default
    with:
      - type: core
        count: 2
      - type: gpu
        count: 1
tasks:
  - command: [ "myapp" ]
    slot: default
    count:
      per_slot: 1
attributes:
  system:
    duration: 3600.
"""
    request = jobspec.validate(jobspec.load(text))
    assert (request.nslots, request.cores_per_slot, request.gpus_per_slot) == (10, 2, 1)


# --- validate: what it refuses --------------------------------------------------------------


def with_change(change):
    spec = slot_jobspec()
    change(spec)
    return spec


def nested(spec):
    return spec["resources"][0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("tasks"), "jobspec: tasks: required key is missing"),
        (lambda s: s.update(extra=1), "jobspec: extra: unknown key"),
        (lambda s: s.update(version=2), "jobspec: version: must be 1, got 2"),
        (lambda s: s.update(version=True), "jobspec: version: must be 1, got True"),
        (lambda s: s.update(resources={}), "jobspec: resources: must be an array, got object"),
        (lambda s: s.update(resources=[]),
         "jobspec: resources: must hold exactly one node or slot, got 0 entries"),
        (lambda s: nested(s).update(type="core"),
         "jobspec: resources[0].type: must be 'node' or 'slot', got 'core'"),
        (lambda s: nested(s).pop("type"), "jobspec: resources[0].type: required key is missing"),
        (lambda s: nested(s).update(count=0),
         "jobspec: resources[0].count: must be a positive integer, got 0"),
        (lambda s: nested(s).update(count=True),
         "jobspec: resources[0].count: must be a positive integer, got True"),
        (lambda s: nested(s).update(count=2.0),
         "jobspec: resources[0].count: must be a positive integer, got 2.0"),
        (lambda s: nested(s).update(count={"min": 1}),
         "jobspec: resources[0].count: must be a positive integer (jobspec version 1 has no "
         "ranges)"),
        (lambda s: nested(s).pop("label"),
         "jobspec: resources[0].label: required key is missing (a slot needs a label)"),
        (lambda s: nested(s).update(label=3),
         "jobspec: resources[0].label: must be a string, got integer"),
        (lambda s: nested(s).update(exclusive=True),
         "jobspec: resources[0].exclusive: is allowed only on a node"),
        (lambda s: nested(s).update(requires=[]), "jobspec: resources[0].requires: unknown key"),
        (lambda s: nested(s).update(**{"with": []}),
         "jobspec: resources[0].with: must be a non-empty array"),
        (lambda s: nested(s).update(**{"with": [{"type": "gpu", "count": 1}]}),
         "jobspec: resources[0].with: a slot must hold a core"),
        (lambda s: nested(s)["with"].append({"type": "core", "count": 1}),
         "jobspec: resources[0].with[1]: a slot may hold only one core entry"),
        (lambda s: nested(s)["with"].append({"type": "memory", "count": 1}),
         "jobspec: resources[0].with[1].type: must be 'core' or 'gpu', got 'memory'"),
        (lambda s: nested(s)["with"][0].update(**{"with": [{"type": "core", "count": 1}]}),
         "jobspec: resources[0].with[0].with: a core cannot hold other resources"),
        (lambda s: nested(s)["with"][0].update(exclusive=False),
         "jobspec: resources[0].with[0].exclusive: is allowed only on a node"),
        (lambda s: s.update(tasks=[]), "jobspec: tasks: must hold exactly one task, got 0"),
        (lambda s: s["tasks"][0].pop("slot"), "jobspec: tasks[0].slot: required key is missing"),
        (lambda s: s["tasks"][0].update(env={}), "jobspec: tasks[0].env: unknown key"),
        (lambda s: s["tasks"][0].update(command="app"),
         "jobspec: tasks[0].command: must be a non-empty array of strings"),
        (lambda s: s["tasks"][0].update(command=[]),
         "jobspec: tasks[0].command: must be a non-empty array of strings"),
        (lambda s: s["tasks"][0].update(command=["app", 3]),
         "jobspec: tasks[0].command[1]: must be a string, got integer"),
        (lambda s: s["tasks"][0].update(slot="other"),
         "jobspec: tasks[0].slot: must name the slot label 'task', got 'other'"),
        (lambda s: s["tasks"][0].update(count={}),
         "jobspec: tasks[0].count: must hold exactly one of per_slot or total"),
        (lambda s: s["tasks"][0].update(count={"per_slot": 1, "total": 4}),
         "jobspec: tasks[0].count: must hold exactly one of per_slot or total"),
        (lambda s: s["tasks"][0].update(count={"per_resource": {"type": "core", "count": 1}}),
         "jobspec: tasks[0].count.per_resource: is not supported in jobspec version 1 (use "
         "per_slot or total)"),
        (lambda s: s["tasks"][0].update(count={"per_slot": 0}),
         "jobspec: tasks[0].count.per_slot: must be a positive integer, got 0"),
        (lambda s: s["tasks"][0].update(count={"total": 5}),
         "jobspec: tasks[0].count.total: must be at most the slot count (4), got 5"),
        (lambda s: s.update(attributes={"system": {"duration": 0}, "site": {}}),
         "jobspec: attributes.site: unknown key (expected system or user)"),
        (lambda s: s.update(attributes={"user": {}}),
         "jobspec: attributes.system: required key is missing"),
        (lambda s: s.update(attributes={"system": {"duration": 0}, "user": []}),
         "jobspec: attributes.user: must be an object, got array"),
    ],
)
def test_validate_names_the_fault_in_the_structure(change, message):
    assert_invalid(with_change(change), message)


def test_validate_requires_total_to_cover_every_node():
    spec = copy.deepcopy(NODE_JOBSPEC)
    spec["tasks"][0]["count"] = {"total": 3}
    assert_invalid(spec, "jobspec: tasks[0].count.total: must be at least the node count (4), "
                         "got 3")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["resources"][0].update(exclusive="yes"),
         "jobspec: resources[0].exclusive: must be a boolean, got string"),
        (lambda s: s["resources"][0]["with"].append(s["resources"][0]["with"][0]),
         "jobspec: resources[0].with: a node must hold exactly one slot"),
        (lambda s: s["resources"][0]["with"][0].update(type="node"),
         "jobspec: resources[0].with[0].type: must be 'slot', got 'node'"),
        (lambda s: s["resources"][0].pop("with"),
         "jobspec: resources[0].with: a node must hold exactly one slot"),
    ],
)
def test_validate_names_the_fault_below_a_node(change, message):
    spec = copy.deepcopy(NODE_JOBSPEC)
    change(spec)
    assert_invalid(spec, message)


@pytest.mark.parametrize(
    ("system", "message"),
    [
        ({"duration": -1}, "jobspec: attributes.system.duration: must be a non-negative number "
                           "of seconds, got -1"),
        ({"duration": "1h"}, "jobspec: attributes.system.duration: must be a non-negative "
                             "number of seconds, got '1h'"),
        ({"duration": float("inf")}, "jobspec: attributes.system.duration: must be a "
                                     "non-negative number of seconds, got inf"),
        ({"duration": True}, "jobspec: attributes.system.duration: must be a non-negative "
                             "number of seconds, got True"),
        ({"cwd": 5}, "jobspec: attributes.system.cwd: must be a string, got integer"),
        ({"queue": None}, "jobspec: attributes.system.queue: must be a string, got null"),
        ({"account": []}, "jobspec: attributes.system.account: must be a string, got array"),
        ({"requeue": "no"}, "jobspec: attributes.system.requeue: must be a boolean, got string"),
        ({"constraints": []},
         "jobspec: attributes.system.constraints: must be an object, got array"),
        ({"environment": []},
         "jobspec: attributes.system.environment: must be an object, got array"),
        ({"environment": {"N": 1}},
         "jobspec: attributes.system.environment.N: must be a string or null, got integer"),
        ({"dependencies": {}},
         "jobspec: attributes.system.dependencies: must be an array, got object"),
        ({"dependencies": ["afterok:1"]},
         "jobspec: attributes.system.dependencies[0]: must be an object, got string"),
        ({"dependencies": [{"scheme": "afterok"}]},
         "jobspec: attributes.system.dependencies[0].value: required key is missing"),
        ({"dependencies": [{"scheme": "begin-time", "value": 1.5}]},
         "jobspec: attributes.system.dependencies[0].value: must be a non-empty string, got 1.5"),
        ({"job": {"name": 7}}, "jobspec: attributes.system.job.name: must be a string, got "
                               "integer"),
        ({"shell": []}, "jobspec: attributes.system.shell: must be an object, got array"),
        ({"shell": {"options": {"output": {"stdout": {"type": "kvs"}}}}},
         "jobspec: attributes.system.shell.options.output.stdout.type: must be 'file', got "
         "'kvs'"),
        ({"shell": {"options": {"output": {"stderr": {"type": "file"}}}}},
         "jobspec: attributes.system.shell.options.output.stderr.path: must be a non-empty "
         "string, got None"),
        ({"shell": {"options": {"per-resource": {"type": "socket"}}}},
         "jobspec: attributes.system.shell.options.per-resource.type: must be 'node' or "
         "'core', got 'socket'"),
    ],
)
def test_validate_names_the_faulty_system_attribute(system, message):
    assert_invalid(slot_jobspec(**system), message)


def test_validate_requires_a_duration_as_version_1_does():
    spec = slot_jobspec()
    del spec["attributes"]["system"]["duration"]
    assert_invalid(spec, "jobspec: attributes.system.duration: required key is missing "
                         "(0 means unlimited)")


def test_validate_refuses_a_jobspec_that_is_not_an_object():
    assert_invalid([], "jobspec: must be an object, got array")


# --- build ----------------------------------------------------------------------------------


def test_build_with_defaults_runs_one_task_on_one_core():
    assert jobspec.build(["hostname"]) == {
        "resources": [{"type": "slot", "count": 1, "label": "task",
                       "with": [{"type": "core", "count": 1}]}],
        "tasks": [{"command": ["hostname"], "slot": "task", "count": {"per_slot": 1}}],
        "attributes": {"system": {"duration": 0.0}},
        "version": 1,
    }


def test_build_gives_each_task_a_slot_of_its_cores_and_gpus():
    spec = jobspec.build(["app"], ntasks=4, cores_per_task=2, gpus_per_task=1)
    assert spec["resources"] == [{"type": "slot", "count": 4, "label": "task", "with": [
        {"type": "core", "count": 2}, {"type": "gpu", "count": 1}]}]
    request = jobspec.validate(spec)
    assert (request.nslots, request.cores_per_slot, request.gpus_per_slot) == (4, 2, 1)
    assert request.ntasks == 4


def test_build_with_nodes_alone_runs_one_task_per_exclusive_node():
    spec = jobspec.build(["app"], nnodes=2)
    assert spec["resources"] == [{"type": "node", "count": 2, "exclusive": True, "with": [
        {"type": "slot", "count": 1, "label": "task", "with": [{"type": "core", "count": 1}]}]}]
    request = jobspec.validate(spec)
    assert (request.nnodes, request.ntasks, request.exclusive) == (2, 2, True)


def test_build_spreads_tasks_evenly_over_nodes_without_exclusivity():
    spec = jobspec.build(["app"], ntasks=8, nnodes=2)
    assert spec["resources"][0]["with"][0]["count"] == 4
    assert "exclusive" not in spec["resources"][0]
    assert spec["tasks"][0]["count"] == {"per_slot": 1}


def test_build_uses_a_total_task_count_when_tasks_do_not_divide_over_nodes():
    spec = jobspec.build(["app"], ntasks=5, nnodes=4)
    assert spec["resources"][0]["with"][0]["count"] == 2
    assert spec["tasks"][0]["count"] == {"total": 5}
    assert jobspec.validate(spec).ntasks == 5


def test_build_keeps_an_explicit_non_exclusive_choice():
    spec = jobspec.build(["app"], nnodes=2, exclusive=False)
    assert jobspec.validate(spec).exclusive is False


def test_build_sets_the_system_attributes_of_its_options(tmp_path):
    spec = jobspec.build(
        ["app"], duration="1.5m", cwd=tmp_path, environment={"HOME": "/home/a"},
        queue="debug", name="sim", output="out.{{id}}", error="err.{{id}}",
    )
    assert spec["attributes"]["system"] == {
        "duration": 90.0,
        "environment": {"HOME": "/home/a"},
        "cwd": str(tmp_path),
        "queue": "debug",
        "job": {"name": "sim"},
        "shell": {"options": {"output": {
            "stdout": {"type": "file", "path": "out.{{id}}"},
            "stderr": {"type": "file", "path": "err.{{id}}"},
        }}},
    }


def test_build_takes_a_duration_in_seconds():
    assert jobspec.build(["app"], duration=30)["attributes"]["system"]["duration"] == 30.0


def test_build_turns_dependency_strings_into_rfc_26_objects():
    spec = jobspec.build(["app"], dependencies=["afterok:42", {"scheme": "after", "value": "7"}])
    assert spec["attributes"]["system"]["dependencies"] == [
        {"scheme": "afterok", "value": "42"},
        {"scheme": "after", "value": "7"},
    ]


def test_build_leaves_dependencies_out_when_there_are_none():
    assert "dependencies" not in jobspec.build(["app"])["attributes"]["system"]


@pytest.mark.parametrize(
    ("begin_time", "value"),
    [
        (1700000000, "1700000000.0"),
        ("1700000000.5", "1700000000.5"),
        (datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.UTC), "1700000000.0"),
        ("2023-11-14T22:13:20+00:00", "1700000000.0"),
    ],
)
def test_build_adds_a_begin_time_dependency_with_epoch_seconds(begin_time, value):
    spec = jobspec.build(["app"], dependencies=["afterok:1"], begin_time=begin_time)
    assert spec["attributes"]["system"]["dependencies"] == [
        {"scheme": "afterok", "value": "1"},
        {"scheme": "begin-time", "value": value},
    ]


def test_build_reads_a_begin_time_relative_to_now():
    before = time.time()
    spec = jobspec.build(["app"], begin_time="+1h")
    begin = float(spec["attributes"]["system"]["dependencies"][0]["value"])
    assert before + 3600 <= begin <= time.time() + 3600


@pytest.mark.parametrize(
    ("keyval", "system", "user"),
    [
        ("foo=bar", {"foo": "bar"}, None),
        ("foo", {"foo": 1}, None),
        ("system.a.b=[1, 2]", {"a": {"b": [1, 2]}}, None),
        ("user.project=\"x\"", {}, {"project": "x"}),
        (".user.n=3", {}, {"n": 3}),
        ("attributes.system.cwd=/tmp", {"cwd": "/tmp"}, None),
        ("duration=60", {"duration": 60}, None),
        ("requeue=false", {"requeue": False}, None),
        ("note={not json", {"note": "{not json"}, None),
    ],
)
def test_build_sets_setattr_keys_as_flux_submit_does(keyval, system, user):
    attributes = jobspec.build(["app"], setattr=[keyval])["attributes"]
    expected_system = {"duration": 0.0, **system}
    assert attributes["system"] == expected_system
    assert attributes.get("user") == user


def test_build_sets_setopt_keys_as_shell_options_next_to_the_output_ones():
    spec = jobspec.build(["app"], output="out.txt", label_io=True,
                         setopt=["verbose", "cpu-affinity=off", "output.stdout.label=false",
                                 "gpu-affinity={\"per-task\": true}"])
    assert spec["attributes"]["system"]["shell"]["options"] == {
        "output": {"stdout": {"type": "file", "path": "out.txt", "label": False},
                   "stderr": {"label": True}},
        "verbose": 1,
        "cpu-affinity": "off",
        "gpu-affinity": {"per-task": True},
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"setopt": ["output..x=1"]}, "jobspec: setopt 'output..x=1': the key has an empty "
                                      "part"),
        ({"setopt": ["output=1", "output.stdout.label=true"]},
         "jobspec: setopt 'output.stdout.label=true': attributes.system.shell.options.output "
         "is not an object"),
        ({"command": []}, "jobspec: command: must be a non-empty list of strings"),
        ({"command": "hostname"}, "jobspec: command: must be a non-empty list of strings"),
        ({"ntasks": 0}, "jobspec: ntasks: must be a positive integer, got 0"),
        ({"nnodes": 2, "ntasks": 1}, "jobspec: nnodes: must not exceed ntasks (2 > 1)"),
        ({"cores_per_task": 0}, "jobspec: cores_per_task: must be a positive integer, got 0"),
        ({"gpus_per_task": -1}, "jobspec: gpus_per_task: must be a non-negative integer, got -1"),
        ({"exclusive": True}, "jobspec: exclusive: requires nnodes"),
        ({"duration": "5x"}, "jobspec: duration: invalid duration '5x': unknown unit 'x' "
                             "(expected ms, s, m, h or d)"),
        ({"duration": "infinity"}, "jobspec: duration: must be finite (0 means unlimited)"),
        ({"dependencies": ["afterok"]},
         "jobspec: dependency 'afterok': expected scheme:value[?key=val&...]"),
        ({"begin_time": "tomorrow"}, "jobspec: begin_time: cannot read 'tomorrow' as epoch "
                                     "seconds, an ISO 8601 time or +FSD"),
        ({"begin_time": -5}, "jobspec: begin_time: must be a time after the epoch, got -5"),
        ({"setattr": ["system..x=1"]}, "jobspec: setattr 'system..x=1': the key has an empty "
                                       "part"),
        ({"setattr": ["duration.x=1"]}, "jobspec: setattr 'duration.x=1': "
                                        "attributes.system.duration is not an object"),
        ({"setattr": ["duration=\"1h\""]}, "jobspec: attributes.system.duration: must be a "
                                           "non-negative number of seconds, got '1h'"),
        ({"output": ""}, "jobspec: output: must be a non-empty path, got ''"),
    ],
)
def test_build_refuses_bad_options_naming_them(options, message):
    command = options.pop("command", ["app"])
    with pytest.raises(JobspecError) as caught:
        jobspec.build(command, **options)
    assert str(caught.value) == message


# --- parse_dependency -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "dependency"),
    [
        ("afterok:42", {"scheme": "afterok", "value": "42"}),
        ("afterany:ƒ2oLkTLb", {"scheme": "afterany", "value": "ƒ2oLkTLb"}),
        ("string:foo?type=out", {"scheme": "string", "value": "foo", "type": "out"}),
        ("fluid:a:b", {"scheme": "fluid", "value": "a:b"}),
        ("x:v?n=3&f=2.5;s=a%20b", {"scheme": "x", "value": "v", "n": 3, "f": 2.5, "s": "a b"}),
        ("x:v?k=1&k=2&k=c", {"scheme": "x", "value": "v", "k": [1, 2, "c"]}),
        ("begin-time:1700000000.0", {"scheme": "begin-time", "value": "1700000000.0"}),
    ],
)
def test_parse_dependency_reads_the_rfc_26_command_line_form(text, dependency):
    assert jobspec.parse_dependency(text) == dependency


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("afterok", "expected scheme:value[?key=val&...]"),
        (":42", "expected scheme:value[?key=val&...]"),
        ("1x:42", "expected scheme:value[?key=val&...]"),
        ("afterok:", "value is empty"),
        ("afterok:?x=1", "value is empty"),
        ("x:v?flag", "query item 'flag' must be key=value"),
        ("x:v?scheme=y", "query key 'scheme' is reserved"),
    ],
)
def test_parse_dependency_refuses_malformed_strings(text, problem):
    with pytest.raises(JobspecError) as caught:
        jobspec.parse_dependency(text)
    assert str(caught.value) == f"jobspec: dependency '{text}': {problem}"


# --- load -----------------------------------------------------------------------------------


def test_load_reads_json_and_yaml_files(tmp_path):
    json_file = tmp_path / "job.json"
    json_file.write_text(json.dumps(SLOT_JOBSPEC))
    yaml_file = tmp_path / "job.yaml"
    yaml_file.write_text("version: 1\nresources: []\ntasks: []\nattributes: {}\n")
    assert jobspec.load(json_file) == SLOT_JOBSPEC
    assert jobspec.load(str(yaml_file)) == {
        "version": 1, "resources": [], "tasks": [], "attributes": {},
    }


def test_load_reads_a_document_given_as_text():
    assert jobspec.load(json.dumps(SLOT_JOBSPEC)) == SLOT_JOBSPEC


def test_load_names_a_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(JobspecError) as caught:
        jobspec.load(missing)
    assert str(caught.value) == f"jobspec: {missing}: No such file or directory"


def test_load_names_the_file_and_line_of_a_syntax_error(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nresources: [\n")
    with pytest.raises(JobspecError) as caught:
        jobspec.load(broken)
    assert str(caught.value).startswith(f"jobspec: {broken}: invalid YAML or JSON: ")
    assert "line 3" in str(caught.value)


def test_load_refuses_a_document_that_is_not_an_object(tmp_path):
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(JobspecError) as caught:
        jobspec.load(listing)
    assert str(caught.value) == f"jobspec: {listing}: must hold an object, got array"


# --- redact ---------------------------------------------------------------------------------


def test_redact_drops_the_environment_and_leaves_the_original_alone():
    spec = jobspec.build(["app"], environment={"SECRET": "x"}, queue="q")
    redacted = jobspec.redact(spec)
    assert redacted["attributes"]["system"] == {"duration": 0.0, "queue": "q"}
    assert spec["attributes"]["system"]["environment"] == {"SECRET": "x"}
    assert redacted["resources"] is spec["resources"]


def test_redact_copies_a_jobspec_without_environment():
    spec = jobspec.build(["app"])
    redacted = jobspec.redact(spec)
    assert redacted == spec
    assert redacted is not spec


# --- the contract between build and validate ------------------------------------------------


@pytest.mark.parametrize(
    ("ntasks", "nnodes"),
    [(ntasks, nnodes) for ntasks in (1, 2, 3, 7, 16) for nnodes in (None, 1, 2, 3)
     if not nnodes or nnodes <= ntasks],
)
@pytest.mark.parametrize("cores_per_task", [1, 3])
def test_build_then_validate_keeps_the_requested_counts(ntasks, nnodes, cores_per_task):
    request = jobspec.validate(
        jobspec.build(["app"], ntasks=ntasks, nnodes=nnodes, cores_per_task=cores_per_task)
    )
    assert request.ntasks == ntasks
    assert request.nnodes == (nnodes or 0)
    assert request.cores_per_slot == cores_per_task
    assert request.nslots >= ntasks


def test_label_io_is_a_shell_output_option_alone_or_beside_a_file():
    spec = jobspec.build(["true"], label_io=True)
    output = spec["attributes"]["system"]["shell"]["options"]["output"]
    assert output == {"stdout": {"label": True}, "stderr": {"label": True}}
    jobspec.validate(spec)
    spec = jobspec.build(["true"], output="out.txt", label_io=True)
    assert spec["attributes"]["system"]["shell"]["options"]["output"]["stdout"] == {
        "type": "file", "path": "out.txt", "label": True}
    spec["attributes"]["system"]["shell"]["options"]["output"]["stdout"]["label"] = "yes"
    with pytest.raises(JobspecError, match="shell.options.output.stdout.label: must be a "
                                           "boolean"):
        jobspec.validate(spec)
