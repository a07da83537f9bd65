"""The text of ``corral top``'s screen, as lines: what the terminal shows and what
``corral top --once`` prints, without curses (so it can be read and tested as text).

Top to bottom: a header (instance, time, filters, sort), a summary (nodes, cores and GPUs used
and free, job counts, throughput), one bar per node (or per group of neighbouring nodes when
there are more nodes than the third of the screen they may take), then the jobs: running ones
(elapsed and remaining time) before pending ones (their reason).
"""

import math
import time

from .. import eventlog, hostlist
from ..slurm.records import user_name
from ..slurm.times import squeue_duration
from ..states import STATE_SHORT_NAMES, State

#: Sort keys, in the order ``s`` steps through them; "order" is the instance's own (pending
#: jobs by priority, running ones newest first).
SORT_KEYS = ("order", "id", "user", "elapsed", "remaining", "name")

KEYS_HELP = ("q quit  up/down select  enter job  s sort  r reverse  u user  f queue  "
             "esc back")


def duration(seconds) -> str:
    """``M:SS``, ``H:MM:SS`` or ``D-HH:MM:SS`` (as squeue's TIME): exact to the second, and
    of a width that does not jump as a job runs."""
    return squeue_duration(seconds) if seconds and seconds > 0 else "-"


def bar(used: int, total: int, width: int) -> str:
    """``[|||||     ]``: the used share of ``total`` in ``width`` columns."""
    inner = max(width - 2, 1)
    filled = round(inner * used / total) if total else 0
    return "[" + "|" * filled + " " * (inner - filled) + "]"


def node_groups(nodes: list[dict], rows: int) -> list[dict]:
    """At most ``rows`` entries: the nodes themselves, or runs of neighbouring ranks added up,
    each named by its hostlist."""
    if len(nodes) <= rows:
        return [dict(node, label=node["name"], count=1) for node in nodes]
    size = math.ceil(len(nodes) / max(rows, 1))
    groups = []
    for start in range(0, len(nodes), size):
        part = nodes[start:start + size]
        groups.append({
            "label": hostlist.compress(node["name"] for node in part),
            "count": len(part),
            "ncores": sum(node["ncores"] for node in part),
            "free_cores": sum(node["free_cores"] for node in part),
            "ngpus": sum(node["ngpus"] for node in part),
            "free_gpus": sum(node["free_gpus"] for node in part),
            "drained": sum(node["drained"] for node in part),
        })
    return groups


def sort_jobs(jobs: list[dict], key: str, reverse: bool, now: float) -> list[dict]:
    if key == "order":
        return list(reversed(jobs)) if reverse else list(jobs)
    keys = {
        "id": lambda job: job["id"],
        "user": lambda job: (user_name(job["userid"]), job["id"]),
        "elapsed": lambda job: (now - job["t_run"]) if job.get("t_run") else 0,
        "remaining": lambda job: _remaining(job, now) if job.get("expiration") else math.inf,
        "name": lambda job: (job.get("name") or "", job["id"]),
    }
    return sorted(jobs, key=keys[key], reverse=reverse)


def _remaining(job, now) -> float:
    return max(job["expiration"] - now, 0) if job.get("expiration") else 0


class View:
    """What the person looking chose, besides the filters (which the `Watch` applies): the
    sort, the selected job, the open job, a message for the bottom line."""

    def __init__(self):
        self.sort = "order"
        self.reverse = False
        self.selected = 0
        self.top_row = 0  # the first job row shown, for scrolling
        self.detail = None  # (job, events, output tail) of the open job
        self.message = ""


def jobs_in_order(watch, view, now) -> list[dict]:
    return (sort_jobs(watch.running, view.sort, view.reverse, now)
            + sort_jobs(watch.pending, view.sort, view.reverse, now))


def render(watch, view, width: int, height: int, uri: str, now: float | None = None):
    """``(lines, selected line index or None)`` for a ``width`` x ``height`` screen."""
    now = time.time() if now is None else now
    if view.detail is not None:
        return _render_detail(view, width, height, now), None
    lines = _header(watch, view, uri, now)
    node_rows = max(min(len(watch.nodes), height // 3), 1)
    lines += _node_lines(node_groups(watch.nodes, node_rows), width)
    lines.append("")
    header = f"{'JOBID':>8} {'USER':<9} {'ST':<2} {'NAME':<12} {'QUEUE':<8} {'NODES':>5} " \
             f"{'ELAPSED':>8} {'REMAIN':>8} {'REASON/NODELIST'}"
    lines.append(header)
    jobs = jobs_in_order(watch, view, now)
    room = max(height - len(lines) - 2, 1)
    view.selected = min(view.selected, max(len(jobs) - 1, 0))
    if view.selected < view.top_row:
        view.top_row = view.selected
    elif view.selected >= view.top_row + room:
        view.top_row = view.selected - room + 1
    view.top_row = min(view.top_row, max(len(jobs) - room, 0))
    selected_line = None
    for index in range(view.top_row, min(len(jobs), view.top_row + room)):
        if index == view.selected:
            selected_line = len(lines)
        lines.append(_job_line(jobs[index], now))
    if not jobs:
        lines.append("(no jobs)")
    while len(lines) < height - 1:
        lines.append("")
    lines = lines[:height - 1]
    lines.append(view.message or KEYS_HELP)
    return [line[:width - 1] for line in lines], selected_line


def _header(watch, view, uri, now) -> list[str]:
    states = watch.stats.get("job_states", {})
    nodes = watch.nodes
    cores = sum(node["ncores"] for node in nodes)
    free_cores = sum(node["free_cores"] for node in nodes)
    gpus = sum(node["ngpus"] for node in nodes)
    free_gpus = sum(node["free_gpus"] for node in nodes)
    drained = sum(1 for node in nodes if node["drained"])
    user = "all" if watch.userid == -1 else user_name(watch.userid)
    pending = states.get("depend", 0) + states.get("priority", 0) + states.get("sched", 0)
    running = states.get("run", 0) + states.get("cleanup", 0)
    return [
        f"corral top  {time.strftime('%H:%M:%S', time.localtime(now))}  user: {user}  "
        f"queue: {watch.queue or 'all'}  sort: {view.sort}"
        f"{' (reversed)' if view.reverse else ''}  {uri}",
        f"nodes: {len(nodes)} ({drained} drained)  cores: {cores - free_cores} used, "
        f"{free_cores} free of {cores}  gpus: {gpus - free_gpus} used, {free_gpus} free "
        f"of {gpus}",
        f"jobs: {pending} pending, {running} running, {states.get('inactive', 0)} inactive  "
        f"throughput: {watch.throughput():.1f} jobs/min",
        "",
    ]


#: The widest a node's cores bar grows: a wider one shows nothing more, and the text dump of
#: ``--once`` off a terminal, whose width is unbounded, would draw bars thousands of columns long.
MAX_BAR_WIDTH = 100


def _node_lines(groups, width) -> list[str]:
    label_width = min(max((len(group["label"]) for group in groups), default=4), 24)
    bar_width = min(max((width - label_width - 40) // 2, 10), MAX_BAR_WIDTH)
    lines = []
    for group in groups:
        used_cores = group["ncores"] - group["free_cores"]
        line = (f"{group['label'][:label_width]:<{label_width}} cores "
                f"{bar(used_cores, group['ncores'], bar_width)} "
                f"{used_cores:>4}/{group['ncores']:<4}")
        if group["ngpus"]:
            used_gpus = group["ngpus"] - group["free_gpus"]
            line += (f" gpus {bar(used_gpus, group['ngpus'], bar_width // 2)} "
                     f"{used_gpus}/{group['ngpus']}")
        if group["drained"]:
            line += " drained" if group["count"] == 1 else f" {group['drained']} drained"
        lines.append(line)
    return lines


def _job_line(job, now) -> str:
    state = State(job["state"])
    running = bool(state & (State.RUN | State.CLEANUP))
    elapsed = duration(now - job["t_run"]) if running and job.get("t_run") else "-"
    remaining = duration(_remaining(job, now)) if running and job.get("expiration") else "-"
    if running:
        where = job.get("nodelist") or ""
    else:
        where = job.get("reason") or state.name.lower()
    return (f"{job['id']:>8} {user_name(job['userid'])[:9]:<9} {STATE_SHORT_NAMES[state]:<2} "
            f"{(job.get('name') or '')[:12]:<12} {(job.get('queue') or '-')[:8]:<8} "
            f"{job.get('nnodes') or 0:>5} {elapsed:>8} {remaining:>8} {where}")


def _render_detail(view, width, height, now) -> list[str]:
    job, events, tail = view.detail
    state = State(job["state"])
    status = job.get("result_name") or job.get("state_name") or state.name
    lines = [
        f"job {job['id']}  {job.get('name') or ''}  user: {user_name(job['userid'])}  "
        f"state: {status}  queue: {job.get('queue') or '-'}  "
        f"nodes: {job.get('nodelist') or '-'}",
        "",
        "eventlog:",
    ]
    t0 = events[0]["timestamp"] if events else now
    event_room = max((height - 6) // 2, 3)
    shown = events[-event_room:]
    lines += ["  " + eventlog.format_text(event, "offset", t0) for event in shown]
    lines += ["", "output (last lines):"]
    room = max(height - len(lines) - 1, 1)
    lines += ["  " + line for line in tail[-room:]] or ["  (none)"]
    while len(lines) < height - 1:
        lines.append("")
    lines = lines[:height - 1]
    lines.append(view.message or "esc/q back to the list")
    return [line[:width - 1] for line in lines]
