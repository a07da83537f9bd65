"""Column layouts of squeue (``-o`` letters, ``-O`` names) and sacct (``-o`` names), and
their rendering, as Slurm prints them — tools cut these columns apart, so widths matter.

A field is ``(name, width, right-justified)``.  As Slurm's ``_print_str`` does, a field with a
width is cut to it and padded to it (on the left when right-justified); one without a width
is printed whole.  squeue's ``-O`` fields default to 20 characters and follow each other with
no separator; sacct's fields each have their own default width and end with a space.
"""

import re
import time


class FormatError(ValueError):
    """A format string names something the command does not know."""


def pad(text: str, width: int | None, right: bool) -> str:
    if not width:
        return text
    text = text[:width]
    return text.rjust(width) if right else text.ljust(width)


# --- squeue -o --------------------------------------------------------------------------

#: squeue ``-o`` letter -> (field name, header)
SQUEUE_LETTERS = {
    "a": ("account", "ACCOUNT"), "A": ("job_id", "JOBID"), "C": ("cpus", "CPUS"),
    "D": ("nodes", "NODES"), "e": ("end_time", "END_TIME"), "E": ("dependency", "DEPENDENCY"),
    "F": ("array_job_id", "ARRAY_JOB_ID"),
    "i": ("display_id", "JOBID"), "j": ("name", "NAME"), "K": ("array_task_id", "ARRAY_TASK_ID"),
    "l": ("time_limit", "TIME_LIMIT"), "L": ("time_left", "TIME_LEFT"),
    "m": ("min_memory", "MIN_MEMORY"), "M": ("time_used", "TIME"),
    "N": ("nodelist", "NODELIST"), "P": ("partition", "PARTITION"),
    "q": ("qos", "QOS"), "Q": ("priority", "PRIORITY"), "r": ("reason", "REASON"),
    "R": ("reason_list", "NODELIST(REASON)"), "S": ("start_time", "START_TIME"),
    "t": ("state_compact", "ST"), "T": ("state", "STATE"), "u": ("user", "USER"),
    "U": ("uid", "UID"), "V": ("submit_time", "SUBMIT_TIME"), "Z": ("work_dir", "WORK_DIR"),
}

SQUEUE_DEFAULT = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
_SQUEUE_SPEC = re.compile(r"%(\.?)(\d*)([A-Za-z])")


def parse_squeue_format(text: str) -> list:
    """``-o`` string -> list of literal strings and ``(field, header, width, right)``."""
    parts = []
    position = 0
    for match in _SQUEUE_SPEC.finditer(text):
        if match.start() > position:
            parts.append(text[position:match.start()])
        right, width, letter = match.groups()
        if letter not in SQUEUE_LETTERS:
            raise FormatError(f"Invalid job format specification: {letter}")
        field, header = SQUEUE_LETTERS[letter]
        parts.append((field, header, int(width) if width else None, bool(right)))
        position = match.end()
    if position < len(text):
        parts.append(text[position:].replace("%%", "%"))
    return parts


# --- squeue -O --------------------------------------------------------------------------

#: squeue ``-O`` name (lower case) -> (field name, header)
SQUEUE_NAMES = {
    "account": ("account", "ACCOUNT"), "arrayjobid": ("array_job_id", "ARRAY_JOB_ID"),
    "arraytaskid": ("array_task_id", "ARRAY_TASK_ID"),
    "dependency": ("dependency", "DEPENDENCY"), "endtime": ("end_time", "END_TIME"),
    "jobarrayid": ("display_id", "JOBID"), "jobid": ("job_id", "JOBID"),
    "minmemory": ("min_memory", "MIN_MEMORY"),
    "name": ("name", "NAME"), "nodelist": ("nodelist", "NODELIST"),
    "numcpus": ("cpus", "CPUS"), "numnodes": ("nodes", "NODES"),
    "numtasks": ("ntasks", "TASKS"), "partition": ("partition", "PARTITION"),
    "priority": ("priority", "PRIORITY"), "qos": ("qos", "QOS"), "reason": ("reason", "REASON"),
    "reasonlist": ("reason_list", "NODELIST(REASON)"), "starttime": ("start_time", "START_TIME"),
    "state": ("state", "STATE"), "statecompact": ("state_compact", "ST"),
    "submittime": ("submit_time", "SUBMIT_TIME"), "timeleft": ("time_left", "TIME_LEFT"),
    "timelimit": ("time_limit", "TIME_LIMIT"), "timeused": ("time_used", "TIME"),
    "userid": ("uid", "UID"), "username": ("user", "USER"), "workdir": ("work_dir", "WORK_DIR"),
}
SQUEUE_NAME_WIDTH = 20


def parse_squeue_names(text: str) -> list:
    """``-O`` string (``name[:[.]size],...``) -> list of ``(field, header, width, right)``."""
    parts = []
    for item in text.split(","):
        name, _colon, size = item.strip().partition(":")
        key = name.lower()
        if key not in SQUEUE_NAMES:
            raise FormatError(f"Invalid job format specification: {name}")
        right = size.startswith(".")
        size = size.lstrip(".")
        if size and not size.isdecimal():
            raise FormatError(f"Invalid job format size: {item}")
        field, header = SQUEUE_NAMES[key]
        parts.append((field, header, int(size) if size else SQUEUE_NAME_WIDTH, right))
    return parts


def render_all(parts, rows, getter_of) -> list[str]:
    """Lines of ``parts`` for ``rows``; ``getter_of(field)`` gives ``getter(row) -> text``
    (looked up once per column, not once per cell: squeue may print 100 000 rows)."""
    columns = [part if isinstance(part, str) else (getter_of(part[0]), part[2], part[3])
               for part in parts]
    lines = []
    for row in rows:
        cells = []
        for column in columns:
            if isinstance(column, str):
                cells.append(column)
                continue
            getter, width, right = column
            text = getter(row)
            if width:
                text = text[:width]
                text = text.rjust(width) if right else text.ljust(width)
            cells.append(text)
        lines.append("".join(cells))
    return lines


def date_line(now: float) -> str:
    """The line ``squeue -l`` and ``sinfo -l`` print above their header, Slurm's
    ``slurm_ctime2`` (``Mon Dec 07 15:52:22 2026``)."""
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(now))


def render_header(parts) -> str:
    return "".join(part if isinstance(part, str) else pad(part[1], part[2], part[3])
                   for part in parts)


# --- sacct -o ---------------------------------------------------------------------------

#: sacct field (lower case) -> (name as printed, default width)
SACCT_FIELDS = {
    "account": ("Account", 10), "alloccpus": ("AllocCPUS", 10), "allocnodes": ("AllocNodes", 10),
    "elapsed": ("Elapsed", 10), "elapsedraw": ("ElapsedRaw", 10), "end": ("End", 19),
    "exitcode": ("ExitCode", 8), "jobid": ("JobID", 12), "jobidraw": ("JobIDRaw", 12),
    "jobname": ("JobName", 10), "nnodes": ("NNodes", 8), "nodelist": ("NodeList", 15),
    "ntasks": ("NTasks", 8), "partition": ("Partition", 10), "priority": ("Priority", 10),
    "qos": ("QOS", 10), "reason": ("Reason", 20), "reqmem": ("ReqMem", 10),
    "start": ("Start", 19),
    "state": ("State", 10), "submit": ("Submit", 19), "timelimit": ("Timelimit", 10),
    "uid": ("UID", 6), "user": ("User", 9), "workdir": ("WorkDir", 15),
}
SACCT_DEFAULT = "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode"
#: Fields whose values sacct prints left-justified (the others are right-justified).
SACCT_LEFT = frozenset({"JobID", "JobIDRaw"})


def parse_sacct_format(text: str) -> list[tuple[str, int]]:
    """``-o`` string (``Field[%width],...``) -> ``(name, width)`` pairs."""
    fields = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, _percent, width = item.partition("%")
        key = name.lower()
        if key not in SACCT_FIELDS:
            raise FormatError(f"Invalid field requested: \"{name}\"")
        printed, default = SACCT_FIELDS[key]
        if width and not width.lstrip("-").isdecimal():
            raise FormatError(f"Invalid field width: \"{item}\"")
        fields.append((printed, abs(int(width)) if width else default))
    return fields


def sacct_line(fields, values: dict, parsable: str | None, header: bool = False) -> str:
    """One sacct line; ``parsable`` is ``"|"`` (``-p``: a trailing bar), ``""`` (``-P``)
    or None (columns)."""
    if parsable is not None:
        line = "|".join(name if header else values[name] for name, _width in fields)
        return line + "|" if parsable else line
    cells = []
    for name, width in fields:
        if header:
            cells.append(pad(name, width, True))
        else:
            value = values[name]
            if len(value) > width:
                value = value[:width - 1] + "+"  # sacct marks a cut value with '+'
            cells.append(pad(value, width, name not in SACCT_LEFT))
    return " ".join(cells) + " "


def sacct_rule(fields) -> str:
    return " ".join("-" * width for _name, width in fields) + " "
