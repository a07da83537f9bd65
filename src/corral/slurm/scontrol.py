"""``scontrol``: ``show job|hostnames|hostlist|node|partition|config``, ``hold``,
``release``, ``requeue`` and ``update JobId=... TimeLimit=|Partition=|JobName=``.

``show job`` prints Slurm's ``Key=Value`` layout (the keys tools read; values corral does not
have are Slurm's "not set" spellings).  ``hold`` is urgency 0, ``release`` the default
urgency 16; who held a job is recorded so that ``squeue`` can tell ``JobHeldUser`` from
``JobHeldAdmin``.
"""

import os
import sys
import time

from .. import hostlist
from . import CLUSTER_NAME, records, run, times
from .partitions import partitions


class ScontrolError(ValueError):
    pass


def _jobs(client, text):
    jobs = records.lookup(client, text)
    if not jobs:
        raise ScontrolError("Invalid job id specified")
    return jobs


def _show_job(client, arguments):
    if arguments:
        found = [records.lookup(client, text) for text in arguments]
        if not all(found):
            print(records.NO_SUCH_JOB, file=sys.stderr)
            return 1
        jobs = [job for named in found for job in named]
    else:
        jobs = records.fetch(client, -1, since=time.time() - records.MIN_JOB_AGE)
        if not jobs:
            print("No jobs in the system")
            return 0
    owner = records.owner_uid(client)
    records.describe_dependencies(client, jobs)
    now = time.time()
    blocks = [_job_block(job, owner, now) for job in jobs]
    print("\n\n".join(blocks) + "\n")
    return 0


def _job_block(job, owner, now) -> str:
    array = ""
    if job.array_task_id is not None:
        array = f" ArrayJobId={job.array_job_id} ArrayTaskId={job.array_task_id}"
    group = _group(job.uid)
    limit = times.limit_text(job.time_limit, times.sacct_duration)
    end = times.timestamp(job.end_time, "Unknown") if job.finished else (
        times.timestamp(job.start_time + job.time_limit, "Unknown")
        if job.start_time and job.time_limit else "Unknown")
    node_list = job.nodelist or "(null)"
    lines = [
        f"JobId={job.id}{array} JobName={job.name}",
        f"   UserId={job.user}({job.uid}) GroupId={group} MCS_label=N/A",
        f"   Priority={job.priority} Nice=0 Account={job.account or '(null)'} QOS={job.qos}",
        f"   JobState={job.state} Reason={job.reason(owner, now)} Dependency={job.dependency}",
        f"   Requeue=1 Restarts={job.summary.get('restarts') or 0} "
        f"BatchFlag={1 if job.memo.get('batch') else 0} Reboot=0 ExitCode={job.exit_code}",
        f"   RunTime={times.sacct_duration(job.elapsed(now))} TimeLimit={limit} TimeMin=N/A",
        f"   SubmitTime={times.timestamp(job.submit_time, 'Unknown')} "
        f"EligibleTime={times.timestamp(job.submit_time, 'Unknown')}",
        f"   StartTime={times.timestamp(job.start_time, 'Unknown')} EndTime={end} Deadline=N/A",
        f"   Partition={job.partition} AllocNode:Sid={os.uname().nodename}:0",
        "   ReqNodeList=(null) ExcNodeList=(null)",
        f"   NodeList={node_list}",
        f"   BatchHost={hostlist.expand(job.nodelist)[0] if job.nodelist else '(null)'}",
        f"   NumNodes={job.nnodes} NumCPUs={job.cpus} NumTasks={job.ntasks} "
        f"CPUs/Task={max(job.cpus // job.ntasks, 1)} ReqB:S:C:T=0:0:*:*",
        f"   WorkDir={job.work_dir or '(null)'}",
    ]
    return "\n".join(lines)


def _group(uid: int) -> str:
    """``name(gid)`` of the user's primary group, as ``GroupId=`` shows it."""
    import grp
    import pwd

    try:
        gid = pwd.getpwuid(uid).pw_gid
    except KeyError:
        return f"{uid}({uid})"
    try:
        return f"{grp.getgrgid(gid).gr_name}({gid})"
    except KeyError:
        return f"{gid}({gid})"


def _show_hostnames(client, arguments):
    text = arguments[0] if arguments else os.environ.get("SLURM_JOB_NODELIST")
    if not text:
        raise ScontrolError("host list is empty")
    for host in hostlist.expand(text):
        print(host)
    return 0


def _show_hostlist(client, arguments):
    if not arguments:
        raise ScontrolError("host list is empty")
    print(hostlist.compress(hostlist.expand(",".join(arguments))))
    return 0


def _nodes(client):
    return client.rpc("resource.list")["nodes"]


def _node_state(node) -> str:
    if node["drained"]:
        return "DRAINED" if node["free_cores"] == node["ncores"] else "DRAINING"
    if node["free_cores"] == node["ncores"]:
        return "IDLE"
    return "ALLOCATED" if node["free_cores"] == 0 else "MIXED"


def _show_node(client, arguments):
    nodes = _nodes(client)
    if arguments:
        names = set(hostlist.expand(arguments[0]))
        nodes = [node for node in nodes if node["name"] in names]
        if not nodes:
            raise ScontrolError(f"Node {arguments[0]} not found")
    owners = {}  # node rank -> the partitions that own it
    for name, _queue, members in partitions(client):
        for member in members:
            owners.setdefault(member["rank"], []).append(name)
    blocks = []
    for node in nodes:
        allocated = node["ncores"] - node["free_cores"]
        gres = f"gpu:{node['ngpus']}" if node["ngpus"] else "(null)"
        lines = [
            f"NodeName={node['name']} Arch={os.uname().machine} CoresPerSocket=1",
            f"   CPUAlloc={allocated} CPUEfctv={node['ncores']} CPUTot={node['ncores']} "
            f"CPULoad=0.00",
            f"   Gres={gres}",
            f"   NodeAddr={node['name']} NodeHostName={node['name']}",
            f"   State={_node_state(node)} ThreadsPerCore=1",
            f"   Partitions={','.join(owners.get(node['rank'], []))}",
        ]
        if node["drained"]:
            lines.append(f"   Reason={node.get('reason') or '(null)'}")
        blocks.append("\n".join(lines))
    print("\n\n".join(blocks) + "\n")
    return 0


def _max_time(queue) -> str:
    """``MaxTime=``: the queue's duration limit as scontrol prints it (``00:10:00``)."""
    return times.limit_text(queue.get("duration_limit"), times.sacct_duration)


def _default_time(queue) -> str:
    """``DefaultTime=``: the time limit a job asking for none gets, ``NONE`` without one."""
    default = queue.get("default_duration")
    return "NONE" if default is None else times.sacct_duration(default)


def _show_partition(client, arguments):
    blocks = []
    for index, (name, queue, nodes) in enumerate(partitions(client)):
        names = hostlist.compress(node["name"] for node in nodes)
        if arguments and name != arguments[0]:
            continue
        state = "UP" if queue["enabled"] and queue["started"] else (
            "DOWN" if queue["enabled"] else "INACTIVE")
        blocks.append("\n".join([
            f"PartitionName={name}",
            "   AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL",
            f"   Default={'YES' if index == 0 else 'NO'} QoS=N/A",
            f"   DefaultTime={_default_time(queue)} Hidden=NO",
            f"   MaxNodes=UNLIMITED MaxTime={_max_time(queue)} MinNodes=0",
            f"   Nodes={names}",
            f"   State={state} TotalCPUs={sum(node['ncores'] for node in nodes)} "
            f"TotalNodes={len(nodes)}",
        ]))
    if not blocks:
        raise ScontrolError(f"Partition {arguments[0]} not found")
    print("\n\n".join(blocks) + "\n")
    return 0


def _show_config(client, arguments):
    from . import submission

    pairs = [("ClusterName", CLUSTER_NAME), ("MaxArraySize", submission.MAX_ARRAY_SIZE),
             ("MinJobAge", f"{records.MIN_JOB_AGE} sec"), ("SchedulerType", "sched/corral"),
             ("SLURM_VERSION", "22.05.0")]
    print("Configuration data as of " + times.timestamp(time.time()))
    for key, value in pairs:
        print(f"{key:<24}= {value}")
    return 0


def _set_urgency(client, arguments, urgency):
    if not arguments:
        raise ScontrolError("Invalid job id specified")
    status = 0
    for text in records.split_ids(",".join(arguments)):
        for job in _jobs(client, text):
            if job.finished or job.state != "PENDING":
                print(f"scontrol: error: Job {job.display_id}: Job has already started or "
                      "finished" if urgency == 0 else
                      f"scontrol: error: Job {job.display_id}: Job is no longer pending "
                      "execution", file=sys.stderr)
                status = 1
                continue
            client.set_urgency(job.id, urgency)
            held_by = os.getuid() if urgency == 0 else None
            client.rpc("job-manager.memo", {"id": job.id,
                                            "memo": {records.SLURM_MEMO: {"held_by": held_by}}})
    return status


def _requeue(client, arguments):
    if not arguments:
        raise ScontrolError("Invalid job id specified")
    for text in records.split_ids(",".join(arguments)):
        for job in _jobs(client, text):
            client.rpc("job-manager.requeue", {"id": job.id, "hold": False})
    return 0


def _update(client, arguments):
    job_text = None
    updates = {}
    for argument in arguments:
        key, _equals, value = argument.partition("=")
        key = key.lower()
        if key == "jobid":
            job_text = value
        elif key == "timelimit":
            updates["attributes.system.duration"] = float(times.parse_limit(value))
        elif key == "partition":
            updates["attributes.system.queue"] = value
        elif key == "jobname" or key == "name":
            updates["attributes.system.job.name"] = value
        else:
            # Slurm's words, naming the argument as the user wrote it.
            raise ScontrolError(f"Update of this parameter is not supported: {argument}")
    if job_text is None:
        raise ScontrolError("No job id given (JobId=...)")
    if not updates:
        raise ScontrolError("No changes specified")
    for job in _jobs(client, job_text):
        client.rpc("job-manager.update", {"id": job.id, "updates": updates})
    return 0


_SHOW = {"job": _show_job, "jobs": _show_job, "hostnames": _show_hostnames,
         "hostname": _show_hostnames, "hostlist": _show_hostlist, "node": _show_node,
         "nodes": _show_node, "partition": _show_partition, "partitions": _show_partition,
         "config": _show_config}


def _main(argv) -> int:
    words = [word for word in argv if word not in ("-o", "--oneliner", "-d", "--details")]
    if not words:
        raise ScontrolError("no command given")
    verb, arguments = words[0].lower(), words[1:]
    if verb == "show" and arguments and arguments[0].lower() in ("hostnames", "hostname",
                                                                  "hostlist"):
        return _SHOW[arguments[0].lower()](None, arguments[1:])
    from ..client import connect

    with connect() as client:
        if verb == "show":
            if not arguments or arguments[0].lower() not in _SHOW:
                raise ScontrolError(f"invalid entity: {arguments[0] if arguments else ''} for "
                                    "keyword: show")
            return _SHOW[arguments[0].lower()](client, arguments[1:])
        if verb == "hold" or verb == "uhold":
            return _set_urgency(client, arguments, 0)
        if verb == "release":
            return _set_urgency(client, arguments, 16)
        if verb == "requeue":
            return _requeue(client, arguments)
        if verb == "update":
            return _update(client, arguments)
    raise ScontrolError(f"invalid keyword: {verb}")


def main(argv) -> int:
    return run("scontrol", _main, argv)
