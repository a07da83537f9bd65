"""The layout of ``corral top``'s screen: node bars and groups, job rows, sorting, sizes."""

import os

from corral.cli import top_screen
from corral.states import State


def node(rank, free_cores=4, ncores=4, ngpus=0, free_gpus=0, drained=False):
    return {"rank": rank, "name": f"node{rank}", "ncores": ncores, "free_cores": free_cores,
            "ngpus": ngpus, "free_gpus": free_gpus, "drained": drained}


def job(job_id, state=State.RUN, t_run=None, expiration=0.0, reason=None, name="x"):
    return {"id": job_id, "userid": os.getuid(), "state": int(state), "name": name,
            "queue": None, "nnodes": 1, "nodelist": "node0", "t_run": t_run,
            "expiration": expiration, "reason": reason}


class FakeWatch:
    """What `top_watch.Watch` holds after a refresh (the layout reads nothing else)."""

    def __init__(self, nodes, running=(), pending=()):
        self.userid = -1
        self.queue = None
        self.nodes = nodes
        self.running = list(running)
        self.pending = list(pending)
        self.stats = {"job_states": {"sched": len(self.pending), "run": len(self.running),
                                     "inactive": 7}}

    def throughput(self):
        return 12.0


def test_small_machines_get_a_bar_per_node():
    groups = top_screen.node_groups([node(0), node(1, free_cores=0)], rows=10)
    assert [g["label"] for g in groups] == ["node0", "node1"]
    lines = top_screen._node_lines(groups, 100)
    assert "   0/4" in lines[0] and "   4/4" in lines[1]
    assert lines[1].count("|") > lines[0].count("|") == 0


def test_bars_stay_readable_on_a_screen_of_any_width():
    """The text dump of ``--once`` off a terminal renders 10,000 columns wide."""
    lines = top_screen._node_lines(top_screen.node_groups([node(0, ngpus=2)], rows=1), 10_000)
    assert len(lines[0]) < 2 * top_screen.MAX_BAR_WIDTH


def test_a_thousand_nodes_are_grouped_into_the_rows_there_are():
    nodes = [node(rank, free_cores=0 if rank < 500 else 4, drained=rank == 999)
             for rank in range(1000)]
    groups = top_screen.node_groups(nodes, rows=10)
    assert len(groups) == 10
    assert groups[0]["label"] == "node[0-99]"
    assert groups[0]["ncores"] == 400 and groups[0]["free_cores"] == 0
    assert groups[9]["free_cores"] == 400 and groups[9]["drained"] == 1
    assert sum(g["count"] for g in groups) == 1000


def test_screen_fits_its_size_and_marks_the_selected_job():
    now = 1000.0
    watch = FakeWatch([node(rank) for rank in range(1000)],
                      running=[job(1, t_run=now - 75, expiration=now + 3600),
                               job(2, t_run=now - 5)],
                      pending=[job(3, State.SCHED, reason="Resources")])
    view = top_screen.View()
    view.selected = 1
    lines, selected = top_screen.render(watch, view, 100, 30, "local:///x", now=now)
    assert len(lines) == 30 and all(len(line) < 100 for line in lines)
    assert "jobs: 1 pending, 2 running, 7 inactive  throughput: 12.0 jobs/min" in lines[2]
    node_lines = [line for line in lines if line.startswith("node[")]
    assert len(node_lines) == 10  # a third of the screen
    assert lines[selected].split()[0] == "2"
    first = next(line for line in lines if line.split()[:1] == ["1"])
    assert "1:15" in first and "1:00:00" in first  # elapsed, remaining
    third = next(line for line in lines if line.split()[:1] == ["3"])
    assert third.endswith("Resources")
    assert lines[-1] == top_screen.KEYS_HELP


def test_sort_keys_order_running_and_pending_apart():
    now = 100.0
    jobs = [job(5, t_run=90, expiration=200), job(4, t_run=50), job(6, t_run=10,
                                                                     expiration=150)]
    assert [j["id"] for j in top_screen.sort_jobs(jobs, "order", False, now)] == [5, 4, 6]
    assert [j["id"] for j in top_screen.sort_jobs(jobs, "id", False, now)] == [4, 5, 6]
    assert [j["id"] for j in top_screen.sort_jobs(jobs, "elapsed", True, now)] == [6, 4, 5]
    # no time limit sorts last by remaining time
    assert [j["id"] for j in top_screen.sort_jobs(jobs, "remaining", False, now)] == [6, 5, 4]
    watch = FakeWatch([node(0)], running=jobs, pending=[job(1, State.SCHED), job(9, State.SCHED)])
    view = top_screen.View()
    view.sort, view.reverse = "id", True
    assert [j["id"] for j in top_screen.jobs_in_order(watch, view, now)] == [6, 5, 4, 9, 1]


def test_selection_scrolls_the_job_list():
    watch = FakeWatch([node(0)], pending=[job(i, State.SCHED) for i in range(1, 101)])
    view = top_screen.View()
    view.selected = 80
    lines, selected = top_screen.render(watch, view, 100, 20, "local:///x", now=0.0)
    assert lines[selected].split()[0] == "81"
    assert view.top_row > 0
