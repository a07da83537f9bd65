"""PNG plots of one or more replays, with matplotlib (the ``sim`` extra).

For each run: queue length and utilisation over time, and the distribution of waits; with
several runs (one per policy), the same curves on shared axes and the summaries side by side.
"""

import os


def _series(trace, cores: int):
    """Moments and, after all that happens at each, the number of waiting jobs and the
    fraction of cores in use."""
    changes = {}
    for job in trace.jobs:
        if job.start is None:
            continue
        for moment, waiting, busy in ((job.submit, 1, 0), (job.start, -1, job.processors),
                                      (job.end, 0, -job.processors)):
            total = changes.setdefault(moment, [0, 0])
            total[0] += waiting
            total[1] += busy
    moments, queued, used = [], [], []
    waiting = busy = 0
    for moment in sorted(changes):
        waiting += changes[moment][0]
        busy += changes[moment][1]
        moments.append(moment / 3600)
        queued.append(waiting)
        used.append(busy / cores)
    return moments, queued, used


def write(directory: str, runs: dict, cores: int) -> list[str]:
    """``runs`` maps a label (the policy) to ``(trace, summary)``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    os.makedirs(directory, exist_ok=True)
    written = []

    def save(figure, name):
        path = os.path.join(directory, name)
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        pyplot.close(figure)
        written.append(path)

    series = {label: _series(trace, cores) for label, (trace, _summary) in runs.items()}
    figure, (queue_axes, use_axes) = pyplot.subplots(2, 1, figsize=(10, 6), sharex=True)
    for label, (moments, queued, used) in series.items():
        queue_axes.step(moments, queued, where="post", label=label, linewidth=0.8)
        use_axes.step(moments, used, where="post", label=label, linewidth=0.8)
    queue_axes.set_ylabel("waiting jobs")
    use_axes.set_ylabel("cores in use (fraction)")
    use_axes.set_xlabel("hours since the first submit")
    queue_axes.legend()
    save(figure, "queue_and_utilization.png")

    figure, axes = pyplot.subplots(figsize=(8, 5))
    for label, (trace, _summary) in runs.items():
        waits = sorted(job.start - job.submit for job in trace.jobs if job.start is not None)
        if waits:
            fractions = [(index + 1) / len(waits) for index in range(len(waits))]
            axes.step([wait / 3600 for wait in waits], fractions, where="post", label=label)
    axes.set_xlabel("wait (hours)")
    axes.set_ylabel("fraction of jobs waiting at most this long")
    axes.legend()
    save(figure, "wait_distribution.png")

    if len(runs) > 1:
        figure, axes_row = pyplot.subplots(1, 3, figsize=(12, 4))
        labels = list(runs)
        titles = {"mean_wait": "mean wait (s)", "mean_bsld": "mean bounded slowdown",
                  "utilization": "utilization"}
        for axes, (key, title) in zip(axes_row, titles.items(), strict=True):
            axes.bar(labels, [runs[label][1][key] for label in labels])
            axes.set_title(title)
        save(figure, "policy_comparison.png")
    return written
