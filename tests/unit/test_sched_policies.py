"""Queue policies on the real scheduler and pool, driven on the simulator's virtual clock.

Each test submits allocation requests (what the job manager sends: an id, a priority, a queue
and the jobspec's resource request), lets jobs run for a while by that clock, and looks at
when each one was allocated and what it was told while it waited.
"""

import math
import random

import pytest

from corral import config as config_module
from corral import jobspec
from corral.sched import AllocRequest, NodeSpec, QueuePolicies, ResourcePool, Scheduler
from corral.sched.queue import PendingQueue
from corral.sim.clock import VirtualClockLoop, patched_time

T0 = 1_000_000.0


class Request:
    """An allocation request (what the job manager sends) and how long its job runs."""

    def __init__(self, job_id, ntasks, limit, run, nnodes=None, priority=16, queue=None,
                 requires=None, userid=0, gpus_per_task=0, exclusive=None):
        spec = jobspec.build(["true"], ntasks=ntasks, nnodes=nnodes, duration=limit,
                             queue=queue, requires=requires, gpus_per_task=gpus_per_task,
                             exclusive=exclusive)
        self.id = job_id
        request = jobspec.validate(spec)
        self.alloc_request = AllocRequest(job_id, userid, request.queue, priority, request)
        self.run = run


class Cluster:
    """A scheduler over ``nodes`` nodes of ``cores`` cores; jobs end ``run`` seconds after
    they are allocated."""

    def __init__(self, nodes, cores, policy="easy", config_text=None, tmp_path=None,
                 specs=None):
        if config_text is not None:
            path = tmp_path / "corral.toml"
            path.write_text(config_text)
            policies = QueuePolicies.from_config(config_module.load(path))
        else:
            policies = QueuePolicies.from_config(None, policy)
        self.loop = VirtualClockLoop(T0)
        self.pool = ResourcePool(specs or [NodeSpec(f"n{i}", tuple(range(cores)))
                                           for i in range(nodes)])
        self.scheduler = Scheduler(self.loop, self.pool, self, policies)
        self.starts = {}
        self.ranks = {}  # job id -> the ranks it was given
        self.denials = {}
        self.estimates = {}  # job id -> every t_estimate told, in order
        self.reasons = {}
        self.runs = {}  # job id -> how long it runs once allocated

    def allocated(self, job_id, R, annotations, ranks):
        self.starts[job_id] = self.loop.time() - T0
        self.ranks[job_id] = sorted(ranks)
        self.loop.call_later(self.runs[job_id], self.scheduler.free, job_id)

    def denied(self, job_id, note):
        self.denials[job_id] = note

    def annotate(self, job_id, annotations):
        sched = annotations["sched"]
        self.reasons[job_id] = sched["reason_pending"]
        if sched["t_estimate"] is not None:
            self.estimates.setdefault(job_id, []).append(sched["t_estimate"] - T0)

    def submit_at(self, moment, request):
        self.runs[request.id] = request.run
        self.loop.call_at(T0 + moment, self.scheduler.request, request.alloc_request)

    def run(self, until):
        with patched_time(self.loop):
            self.loop.run_until_complete(self.loop.wake_at(T0 + until))

    def close(self):
        self.loop.close()


@pytest.fixture
def cluster(tmp_path):
    made = []

    def make(*args, **kwargs):
        made.append(Cluster(*args, tmp_path=tmp_path, **kwargs))
        return made[-1]

    yield make
    for one in made:
        one.close()


def test_easy_backfills_a_short_job_that_ends_before_the_reservation(cluster):
    machine = cluster(1, 8, "easy")
    machine.submit_at(0, Request(1, 6, limit=100, run=100))
    machine.submit_at(1, Request(2, 8, limit=100, run=100))  # waits for job 1
    machine.submit_at(2, Request(3, 2, limit=98, run=98))  # ends at 100: fits before
    machine.submit_at(3, Request(4, 2, limit=200, run=200))  # would delay job 2
    machine.run(500)
    assert machine.starts == {1: 0, 2: 100, 3: 2, 4: 200}
    assert machine.estimates[2] == [100]


def test_easy_backfills_a_long_job_only_on_cores_the_reservation_leaves_spare(cluster):
    machine = cluster(2, 4, "easy")
    machine.submit_at(0, Request(1, 4, nnodes=1, limit=100, run=100))  # all of one node
    machine.submit_at(1, Request(2, 6, limit=50, run=50))  # reserved at 100 on 6 cores
    machine.submit_at(2, Request(3, 3, limit=1000, run=1000))  # 3 > 2 spare: waits
    machine.submit_at(3, Request(4, 2, limit=1000, run=1000))  # 2 spare cores: starts now
    machine.run(3000)
    assert machine.starts[4] == 3
    assert machine.starts[2] == 100
    assert machine.starts[3] == 150


def test_fcfs_starts_nothing_behind_a_head_that_does_not_fit(cluster):
    machine = cluster(1, 8, "fcfs")
    machine.submit_at(0, Request(1, 6, limit=100, run=100))
    machine.submit_at(1, Request(2, 8, limit=100, run=100))
    machine.submit_at(2, Request(3, 1, limit=1, run=1))
    machine.run(500)
    assert machine.starts == {1: 0, 2: 100, 3: 200}
    assert machine.reasons[2] == "Resources"
    assert 2 not in machine.estimates  # fcfs makes no reservation


def test_conservative_reserves_for_every_waiting_job_and_backfills_past_none(cluster):
    machine = cluster(1, 8, "conservative")
    machine.submit_at(0, Request(1, 6, limit=100, run=100))
    machine.submit_at(1, Request(2, 8, limit=100, run=100))  # reserved 100-200
    machine.submit_at(2, Request(3, 4, limit=100, run=100))  # reserved 200-300
    machine.submit_at(3, Request(4, 2, limit=150, run=150))  # 200-350 beside job 3
    machine.submit_at(4, Request(5, 4, limit=100, run=100))  # only 2 free at 200: 300
    machine.run(1000)
    assert machine.estimates[2] == [100]
    assert machine.estimates[3] == [200]
    assert machine.estimates[4] == [200]
    assert machine.estimates[5] == [300]
    assert machine.starts == {1: 0, 2: 100, 3: 200, 4: 200, 5: 300}


def test_easy_reservation_comes_earlier_when_a_job_ends_before_its_limit(cluster):
    machine = cluster(1, 4, "easy")
    machine.submit_at(0, Request(1, 4, limit=1000, run=10))
    machine.submit_at(1, Request(2, 4, limit=10, run=10))
    machine.run(100)
    assert machine.estimates[2] == [1000]
    assert machine.starts[2] == 10


def test_a_job_without_limit_is_planned_as_never_ending_without_a_default(cluster):
    machine = cluster(1, 4, "easy")
    machine.submit_at(0, Request(1, 2, limit=0, run=1000))  # unlimited
    machine.submit_at(1, Request(2, 4, limit=10, run=10))  # never fits by the plan
    machine.submit_at(2, Request(3, 2, limit=5000, run=10))  # nothing reserved: starts
    machine.run(2000)
    assert 2 not in machine.estimates
    assert machine.reasons[2] == "Resources"
    assert machine.starts == {1: 0, 3: 2, 2: 1000}


def test_queue_default_duration_plans_jobs_without_limit(cluster):
    machine = cluster(1, 4, config_text="""
[sched]
queue-policy = "easy"
[queues.batch]
[queues.batch.policy.jobspec.defaults.system]
duration = "100s"
""")
    machine.submit_at(0, Request(1, 2, limit=0, run=100, queue="batch"))
    machine.submit_at(1, Request(2, 4, limit=10, run=10, queue="batch"))
    machine.submit_at(2, Request(3, 2, limit=500, run=10, queue="batch"))  # would delay 2
    machine.submit_at(3, Request(4, 2, limit=50, run=50, queue="batch"))  # ends 53 < 100
    machine.run(1000)
    assert machine.estimates[2] == [100]
    assert machine.starts == {1: 0, 4: 3, 2: 100, 3: 110}


def test_per_queue_policy_overrides_the_instance_policy(cluster):
    machine = cluster(1, 8, config_text="""
[sched]
queue-policy = "easy"
[queues.batch]
queue-policy = "fcfs"
[queues.debug]
""")
    machine.submit_at(0, Request(1, 6, limit=100, run=100, queue="batch"))
    machine.submit_at(1, Request(2, 8, limit=100, run=100, queue="batch"))
    machine.submit_at(2, Request(3, 1, limit=1, run=1, queue="batch"))  # fcfs: waits
    machine.submit_at(3, Request(4, 8, limit=100, run=100, queue="debug"))  # easy: reserved
    machine.submit_at(4, Request(5, 1, limit=1, run=1, queue="debug"))  # backfills
    machine.run(1000)
    assert machine.starts[5] == 4
    assert machine.starts[3] > 100


def test_unknown_queue_policy_is_one_sentence_naming_the_key(tmp_path):
    path = tmp_path / "corral.toml"
    path.write_text('[sched]\nqueue-policy = "backfill"\n')
    with pytest.raises(config_module.ConfigError) as error:
        QueuePolicies.from_config(config_module.load(path))
    assert str(error.value) == (f"{path}: sched.queue-policy: unknown queue policy 'backfill' "
                                f"(expected fcfs, easy or conservative)")


@pytest.mark.parametrize("depth, starts", [(2, {1: 0, 2: 100, 3: 200, 4: 200}),
                                           (0, {1: 0, 2: 100, 3: 200, 4: 2})])
def test_a_pass_considers_the_first_queue_depth_jobs(cluster, depth, starts):
    """Job 4 could backfill at 2, but with queue-depth 2 a pass looks at jobs 2 and 3
    only (0: the whole queue)."""
    machine = cluster(1, 8, config_text=f'[sched]\nqueue-policy = "easy"\n'
                                         f"queue-depth = {depth}\n")
    machine.submit_at(0, Request(1, 6, limit=100, run=100))
    machine.submit_at(1, Request(2, 8, limit=100, run=100))  # waits for job 1
    machine.submit_at(2, Request(3, 3, limit=10, run=10))  # 2 cores free: waits
    machine.submit_at(2, Request(4, 1, limit=50, run=50))
    machine.run(500)
    assert machine.starts == starts


def test_a_pass_that_starts_queue_depth_jobs_is_followed_by_another(cluster):
    machine = cluster(1, 8, config_text="[sched]\nqueue-depth = 3\n")
    for job_id in range(1, 9):
        machine.submit_at(0, Request(job_id, 1, limit=10, run=10))
    machine.run(100)
    assert machine.starts == {job_id: 0 for job_id in range(1, 9)}


@pytest.mark.parametrize("depth", [0, 30])
def test_a_deep_walk_backfills_past_the_jobs_it_reads_first(cluster, depth):
    """Ten jobs start from the front, the eleventh is too big and reserved; of the one-core
    jobs behind it (ids 12 to 40) those that end before the reservation backfill, well past
    the first jobs a pass reads at once: in one pass over the whole queue (depth 0), or in
    two (depth 30: the first started jobs, so another follows)."""
    config = f'[sched]\nqueue-policy = "easy"\nqueue-depth = {depth}\n'
    machine = cluster(1, 32, config_text=config)
    for job_id in range(1, 11):
        machine.submit_at(0, Request(job_id, 1, limit=100, run=100))
    machine.submit_at(0, Request(11, 32, limit=100, run=100))
    for job_id in range(12, 41):
        short = job_id % 2 == 0
        machine.submit_at(0, Request(job_id, 1, limit=50 if short else 500,
                                     run=50 if short else 500))
    machine.run(100_000)
    backfilled = {job_id for job_id in range(12, 41) if machine.starts[job_id] == 0}
    assert backfilled == set(range(12, 41, 2))
    assert machine.starts[11] == 100
    assert machine.estimates[11][0] == 100


def test_a_negative_queue_depth_is_refused(tmp_path):
    path = tmp_path / "corral.toml"
    path.write_text("[sched]\nqueue-depth = -1\n")
    with pytest.raises(config_module.ConfigError) as error:
        QueuePolicies.from_config(config_module.load(path))
    assert str(error.value) == f"{path}: sched.queue-depth: must be 0 (every job) or more"


@pytest.mark.parametrize("seed", range(6))
def test_easy_never_starts_a_job_later_than_its_first_reservation(cluster, seed):
    """Random jobs on 4 nodes of 8 cores, ending at or before their limits: each job that was
    told a t_estimate starts by then, whatever arrived after it."""
    generator = random.Random(seed)
    machine = cluster(4, 8, "easy")
    moment = 0
    for job_id in range(1, 121):
        moment += generator.choice((0, 0, 1, 5, 20))
        nnodes = generator.choice((None, None, 1, 2))
        ntasks = generator.randint(nnodes or 1, 8 * (nnodes or 3))
        if nnodes:
            ntasks = min(ntasks, 8 * nnodes)
        limit = generator.randint(5, 200)
        run = generator.choice((limit, generator.randint(1, limit)))
        machine.submit_at(moment, Request(job_id, ntasks, limit, run, nnodes=nnodes))
    machine.run(100_000)
    assert len(machine.starts) == 120
    assert machine.estimates, "the workload should make reservations"
    for job_id, told in machine.estimates.items():
        assert machine.starts[job_id] <= told[0] + 1e-6, (job_id, told)


def test_front_read_holds_while_jobs_start_during_the_walk():
    queue = PendingQueue(size=lambda job: 1)
    for job_id in range(1, 41):
        queue.push(AllocRequest(job_id, 0, None, 16, None))
    seen = []
    for job in queue.first()[0]:
        seen.append(job.id)
        if job.id % 3 == 0:
            queue.remove(job.id)
    assert seen == list(range(1, 41))
    assert [job.id for job in queue.jobs()] == [i for i in range(1, 41) if i % 3]


def test_unlimited_planning_duration_is_infinite_without_configuration():
    assert QueuePolicies.from_config(None, "easy").duration(None) == math.inf


DURATIONS = """
[policy.limits]
duration = "1h"
[policy.jobspec.defaults.system]
duration = "30m"
[queues.limited.policy.limits]
duration = "10m"
[queues.undefaulted.policy.jobspec.defaults.system]
duration = "0"
[queues.free.policy.limits]
duration = "0"
[queues.long.policy.limits]
duration = "1d"
[queues.long.policy.jobspec.defaults.system]
duration = "2h"
"""


def test_a_job_without_limit_gets_its_default_capped_by_its_queues_limit(tmp_path):
    """Slurm's DefaultTime, else MaxTime, and MaxTime over a longer DefaultTime."""
    path = tmp_path / "corral.toml"
    path.write_text(DURATIONS)
    policies = QueuePolicies.from_config(config_module.load(path))
    assert {queue: policies.duration(queue) for queue in
            (None, "limited", "undefaulted", "free", "long")} == {
        None: 1800, "limited": 600, "undefaulted": 3600, "free": 1800, "long": 7200}
    path.write_text('[queues.batch.policy.limits]\nduration = "10m"\n[queues.other]\n')
    policies = QueuePolicies.from_config(config_module.load(path))
    assert (policies.duration("batch"), policies.duration("other")) == (600, math.inf)


# --- queues that own nodes, constraints, limits ---------------------------------------------

QUEUES_OWNING_NODES = """
[sched]
queue-policy = "easy"
[queues.debug]
requires = ["debug"]
[queues.batch]
nodes = "n[2-3]"
"""


def _nodes(properties_by_rank, cores=2, gpus=()):
    return [NodeSpec(f"n{rank}", tuple(range(cores)), gpus, properties)
            for rank, properties in enumerate(properties_by_rank)]


def test_a_queue_runs_its_jobs_on_its_own_nodes_only(cluster):
    """debug owns the nodes with the debug property (n0, n1), batch the nodes it names (n2,
    n3): a third batch job waits for a batch node while both debug nodes are idle."""
    machine = cluster(4, 2, config_text=QUEUES_OWNING_NODES,
                      specs=_nodes([("debug",), ("debug",), (), ()]))
    for job_id in (1, 2, 3):
        machine.submit_at(0, Request(job_id, 2, limit=100, run=100, queue="batch"))
    machine.submit_at(1, Request(4, 4, limit=10, run=10, queue="debug"))
    machine.run(500)
    assert machine.starts == {1: 0, 2: 0, 3: 100, 4: 1}
    assert (machine.ranks[1], machine.ranks[2], machine.ranks[3]) == ([2], [3], [2])
    assert machine.ranks[4] == [0, 1]
    assert machine.estimates[3] == [100]


def test_a_job_naming_two_queues_runs_on_the_nodes_of_either(cluster):
    machine = cluster(4, 2, config_text=QUEUES_OWNING_NODES,
                      specs=_nodes([("debug",), ("debug",), (), ()]))
    machine.submit_at(0, Request(1, 4, limit=100, run=100, queue="batch"))
    machine.submit_at(1, Request(2, 2, limit=100, run=100, queue="batch,debug"))
    machine.submit_at(1, Request(3, 2, limit=100, run=100, queue="batch"))
    machine.run(500)
    assert machine.starts == {1: 0, 2: 1, 3: 100}
    assert machine.ranks[2] == [0]


def test_a_job_too_big_for_its_queues_nodes_is_denied(cluster):
    machine = cluster(4, 2, config_text=QUEUES_OWNING_NODES,
                      specs=_nodes([("debug",), ("debug",), (), ()]))
    machine.submit_at(0, Request(1, 6, limit=10, run=10, queue="batch"))
    machine.run(100)
    assert machine.denials == {1: "unsatisfiable request: the 2 nodes its queue and "
                                  "constraints allow cannot hold it"}


def test_constraints_choose_nodes_by_property_name_and_rank(cluster):
    machine = cluster(4, 2, specs=_nodes([("gpu",), ("gpu", "bigmem"), ("bigmem",), ()]))
    machine.submit_at(0, Request(1, 1, limit=10, run=10, requires="bigmem"))
    machine.submit_at(0, Request(2, 2, limit=10, run=10, requires="gpu&^bigmem"))
    machine.submit_at(0, Request(3, 1, limit=10, run=10, requires="host:n3|rank:2"))
    machine.submit_at(0, Request(4, 1, limit=10, run=10, requires="nosuch"))
    machine.run(100)
    assert machine.ranks == {1: [1], 2: [0], 3: [2]}
    assert machine.denials == {4: "unsatisfiable request: no node is allowed by its queue "
                                  "and constraints"}


def test_a_malformed_constraint_is_denied_with_where_it_is_wrong(cluster):
    machine = cluster(1, 2)
    job = Request(1, 1, limit=10, run=10)
    request = job.alloc_request
    request.request = request.request._replace(constraints={"propertees": ["gpu"]})
    machine.submit_at(0, job)
    machine.run(10)
    assert machine.denials == {1: "constraints.propertees: unknown operator (expected "
                                   "properties, hostlist, ranks, and, or, not)"}


def test_max_jobs_per_user_holds_a_users_next_job_and_nobody_elses(cluster):
    machine = cluster(1, 8, config_text="""
[sched]
queue-policy = "fcfs"
[queues.batch]
[queues.batch.policy.limits]
max-jobs-per-user = 1
""")
    machine.submit_at(0, Request(1, 1, limit=100, run=100, queue="batch", userid=1000))
    machine.submit_at(1, Request(2, 1, limit=100, run=100, queue="batch", userid=1000))
    machine.submit_at(2, Request(3, 1, limit=100, run=100, queue="batch", userid=1001))
    machine.run(50)
    assert machine.reasons[2] == "MaxJobsPerUser"
    machine.run(500)
    assert machine.starts == {1: 0, 3: 2, 2: 100}


def test_gpus_are_counted_per_node_and_exclusive_jobs_take_whole_nodes(cluster):
    machine = cluster(2, 4, specs=_nodes([(), ()], cores=4, gpus=(0, 1)))
    for job_id in (1, 2, 3):
        machine.submit_at(0, Request(job_id, 1, limit=100, run=100, gpus_per_task=1))
    machine.submit_at(1, Request(4, 1, limit=10, run=10, nnodes=1, exclusive=True))
    machine.run(1000)
    assert machine.starts == {1: 0, 2: 0, 3: 0, 4: 100}
    assert machine.ranks[1] == machine.ranks[2] == [0] and machine.ranks[3] == [1]


@pytest.mark.parametrize("text, message", [
    ('[queues.a]\nrequires = "gpu"\n', "queues.a.requires: expected an array of property names"),
    ('[queues.a]\nnodes = "n[0-"\n', "queues.a.nodes: expected a hostlist"),
    ('[queues.a.policy.limits]\nmax-jobs-per-user = 0\n',
     "queues.a.policy.limits.max-jobs-per-user: expected a positive integer, or -1 for no "
     "limit"),
])
def test_bad_queue_node_and_limit_settings_name_the_key(tmp_path, text, message):
    path = tmp_path / "corral.toml"
    path.write_text(text)
    with pytest.raises(config_module.ConfigError) as error:
        QueuePolicies.from_config(config_module.load(path))
    assert str(error.value) == f"{path}: {message}"


def _passes(machine) -> int:
    return sum(machine.scheduler.pass_timings.counts)


def test_a_request_behind_a_pass_that_could_start_nothing_costs_no_pass(cluster):
    """A full machine and a full window (depth 2): jobs arriving behind it change nothing a
    pass would find, so none runs for them; the job that ends gives the next pass."""
    machine = cluster(1, 8, config_text='[sched]\nqueue-policy = "easy"\nqueue-depth = 2\n')
    machine.submit_at(0, Request(1, 8, limit=100, run=100))
    machine.submit_at(1, Request(2, 8, limit=100, run=100))
    machine.submit_at(2, Request(3, 4, limit=100, run=100))
    machine.run(3)
    before = _passes(machine)
    for job_id in range(4, 10):
        machine.submit_at(job_id, Request(job_id, 1, limit=1000, run=10))
    machine.run(99)
    assert _passes(machine) == before
    machine.run(10_000)
    assert machine.starts[2] == 100 and machine.estimates[2] == [100]
    assert machine.starts[3] == 200
    assert {job_id: machine.starts[job_id] for job_id in range(4, 10)} == {
        4: 200, 5: 200, 6: 200, 7: 200, 8: 210, 9: 210}


def test_a_request_ahead_of_what_a_pass_looked_at_gets_a_pass(cluster):
    """Job 4 arrives with a higher priority than the waiting jobs: it is the head now, and
    is told its reservation at once."""
    machine = cluster(1, 8, config_text='[sched]\nqueue-policy = "easy"\nqueue-depth = 2\n')
    machine.submit_at(0, Request(1, 8, limit=100, run=100))
    machine.submit_at(1, Request(2, 8, limit=100, run=100))
    machine.submit_at(2, Request(3, 8, limit=100, run=100))
    machine.submit_at(5, Request(4, 8, limit=100, run=100, priority=100))
    machine.run(6)
    assert machine.estimates[4] == [100]
    assert machine.reasons[4] == "Resources"


def test_a_running_job_past_its_expected_end_moves_the_reservation_at_each_request(cluster):
    """Job 1 runs past its 10 s limit (nothing kills it here): a pass counts it as ending
    now, so a request at 50, queued behind everything, still gets a pass, which tells job 2
    its reservation moved to 50."""
    machine = cluster(1, 8, config_text='[sched]\nqueue-policy = "easy"\nqueue-depth = 1\n')
    machine.submit_at(0, Request(1, 8, limit=10, run=100))
    machine.submit_at(1, Request(2, 8, limit=100, run=100))
    machine.submit_at(50, Request(3, 8, limit=100, run=100))
    machine.run(60)
    assert machine.estimates[2] == [10, 50]
