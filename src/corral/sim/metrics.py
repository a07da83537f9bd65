"""The summary of a replay: waits, bounded slowdown, utilisation, and how fast it ran.

Bounded slowdown is ``max(1, (wait + run) / max(run, 10))`` (the 10-second bound keeps very
short jobs from dominating); utilisation is the core-seconds jobs used over the machine's
cores times the makespan (first submit to last end).
"""

import statistics

#: Seconds below which a run counts as this long in the bounded slowdown.
SLOWDOWN_BOUND = 10.0


def summary(trace, cores: int, rejected: int, wall_seconds: float) -> dict:
    ran = [job for job in trace.jobs if job.start is not None]
    waits = [job.start - job.submit for job in ran]
    slowdowns = [max(1.0, (job.end - job.submit) / max(job.end - job.start, SLOWDOWN_BOUND))
                 for job in ran]
    first_submit = min((job.submit for job in trace.jobs), default=0.0)
    last_end = max((job.end for job in ran), default=first_submit)
    makespan = last_end - first_submit
    used = sum((job.end - job.start) * job.processors for job in ran)
    return {
        "jobs": len(ran),
        "skipped": trace.skipped,
        "rejected": rejected,
        "mean_wait": statistics.fmean(waits) if waits else 0.0,
        "median_wait": statistics.median(waits) if waits else 0.0,
        "max_wait": max(waits, default=0.0),
        "mean_bsld": statistics.fmean(slowdowns) if slowdowns else 0.0,
        "utilization": used / (cores * makespan) if makespan > 0 else 0.0,
        "makespan": makespan,
        "wall_seconds": wall_seconds,
        "sim_seconds_per_wall_second": makespan / wall_seconds if wall_seconds > 0 else 0.0,
    }
