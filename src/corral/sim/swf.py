"""Standard Workload Format traces: one job per record, 18 whitespace-separated fields.

A record becomes a job submitted at field 2 (submit time), running field 4 (run time) seconds,
asking for field 8 (requested processors; field 5, allocated processors, when 8 is -1) cores,
with field 9 (requested time; the run time when 9 is -1) as its time limit, by field 12
(user id) when the replay keeps the trace's users.  Records whose
run time or processors are -1 (or 0 processors) cannot be replayed and are skipped, and
counted.  A requested time of 0 is taken as 1 second, since a limit of 0 means unlimited.

Times must be finite: ``float()`` reads ``nan`` and ``inf``, which no job can be submitted at,
run for or be limited to.
"""

import math
from dataclasses import dataclass


class TraceError(ValueError):
    """A trace line that is not an SWF record; ``str()`` names the file and line."""


@dataclass(slots=True)
class TraceJob:
    fields: list  # the record's 18 fields as text, rewritten on output
    submit: float
    run: float
    processors: int
    limit: float
    user: int  # field 12, -1 when the trace does not say
    start: float | None = None
    end: float | None = None


@dataclass(slots=True)
class Trace:
    header: list  # the ';' comment lines, kept for the output trace
    jobs: list
    skipped: int


def read(path: str) -> Trace:
    header = []
    jobs = []
    skipped = 0
    try:
        stream = open(path, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TraceError(f"{path}: {exc.strerror}") from None
    with stream:
        for number, line in enumerate(stream, 1):
            text = line.strip()
            if not text:
                continue
            if text.startswith(";"):
                header.append(text)
                continue
            fields = text.split()
            if len(fields) != 18:
                raise TraceError(f"{path}:{number}: an SWF record has 18 fields, this one has "
                                 f"{len(fields)}")
            try:
                submit, run = float(fields[1]), float(fields[3])
                allocated, requested = int(fields[4]), int(fields[7])
                requested_time = float(fields[8])
                user = int(fields[11])
            except ValueError:
                raise TraceError(f"{path}:{number}: fields 2, 4, 5, 8, 9 and 12 must be "
                                 f"numbers") from None
            if not all(map(math.isfinite, (submit, run, requested_time))):
                raise TraceError(f"{path}:{number}: fields 2, 4 and 9 (submit, run and "
                                 f"requested time) must be finite numbers")
            processors = requested if requested != -1 else allocated
            if run < 0 or processors <= 0:
                skipped += 1
                continue
            limit = requested_time if requested_time != -1 else run
            jobs.append(TraceJob(fields, submit, run, processors, max(limit, 1.0), user))
    jobs.sort(key=lambda job: job.submit)
    return Trace(header, jobs, skipped)


def write(trace: Trace, stream):
    """The trace with field 3 (wait time) and field 4 (run time) as the replay had them; a job
    that never ran keeps -1."""
    for line in trace.header:
        stream.write(line + "\n")
    for job in trace.jobs:
        fields = list(job.fields)
        if job.start is not None:
            fields[2] = _number(job.start - job.submit)
            fields[3] = _number(job.end - job.start)
        else:
            fields[2] = fields[3] = "-1"
        stream.write(" ".join(fields) + "\n")


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.3f}"
