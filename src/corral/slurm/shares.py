"""Fair-share usage as Slurm's ``sshare`` (and ``sprio``) print it, for ``corral share`` and
the Slurm-compatible ``sshare``: the plugin's answer (``job-manager.fairshare.usage`` of
`corral.plugins.fairshare`) in sshare's columns and widths, so that scripts reading sshare
read these."""

import errno

from ..client import RPCError

#: sshare field -> (header, width, key in the plugin's answer, decimals or None for integers)
FIELDS = {
    "Account": ("Account", 20, "account", None),
    "User": ("User", 10, "user", None),
    "RawShares": ("RawShares", 10, "raw_shares", None),
    "NormShares": ("NormShares", 11, "norm_shares", 6),
    "RawUsage": ("RawUsage", 11, "raw_usage", None),
    "NormUsage": ("NormUsage", 11, "norm_usage", 6),
    "EffectvUsage": ("EffectvUsage", 13, "effective_usage", 6),
    "FairShare": ("FairShare", 10, "fairshare", 6),
}
SHORT = ("Account", "User", "RawShares", "NormShares", "RawUsage", "EffectvUsage", "FairShare")
LONG = ("Account", "User", "RawShares", "NormShares", "RawUsage", "NormUsage", "EffectvUsage",
        "FairShare")
#: sprio's columns (header, width), each weighted factor after the job's own values.
JOB_COLUMNS = (("JOBID", 18), ("QUEUE", 9), ("USER", 8), ("ACCOUNT", 10), ("PRIORITY", 10),
               ("AGE", 10), ("FAIRSHARE", 10), ("JOBSIZE", 10), ("QUEUEPRIO", 10),
               ("URGENCY", 10))
JOB_FACTORS = ("age", "fairshare", "size", "queue", "urgency")


#: Why there is nothing to show, as `NotLoaded`'s text.
NOT_LOADED = ("the fair-share plugin is not loaded (corral jobtap load "
              "corral.plugins.fairshare)")


class NotLoaded(Exception):
    """No fair-share plugin answers."""


def usage(client) -> dict:
    """The plugin's answer; `NotLoaded` without the plugin."""
    try:
        return client.rpc("job-manager.fairshare.usage")
    except RPCError as exc:
        if exc.errno != errno.ENOSYS:
            raise
        raise NotLoaded(NOT_LOADED) from None


def _separators(parsable, parsable2):
    return ("|" if parsable or parsable2 else None), ("|" if parsable else "")


def _wanted(text: str | None) -> set | None:
    return {name for name in text.split(",") if name} if text else None


def share_lines(answer, long=False, accounts=None, users=None, header=True, parsable=False,
                parsable2=False) -> list[str]:
    """sshare's lines: ``accounts`` and ``users`` are comma-separated filters."""
    delimiter, trailer = _separators(parsable, parsable2)
    fields = LONG if long else SHORT
    accounts, users = _wanted(accounts), _wanted(users)
    rows = [_root(answer["associations"])]
    for row in answer["associations"]:
        if accounts is not None and row["account"] not in accounts:
            continue
        if row["user"] is not None and users is not None and row["user"] not in users:
            continue
        rows.append(dict(row, account=(" " if row["user"] is None else "  ") + row["account"]))
    lines = []
    if header:
        lines.append(_line([FIELDS[name][0] for name in fields], fields, delimiter, trailer))
        if delimiter is None:
            lines.append(" ".join("-" * FIELDS[name][1] for name in fields))
    for row in rows:
        lines.append(_line([_cell(row, name) for name in fields], fields, delimiter, trailer))
    return lines


def _root(associations) -> dict:
    """sshare's first line: the whole machine, with all usage."""
    total = sum(row["raw_usage"] for row in associations if row["user"] is None)
    return {"account": "root", "user": None, "raw_shares": None, "norm_shares": 1.0,
            "raw_usage": total, "norm_usage": 1.0, "effective_usage": 1.0, "fairshare": None}


def _cell(row, name) -> str:
    _header, _width, key, decimals = FIELDS[name]
    value = row[key]
    if value is None:
        return ""
    if decimals is not None:
        return f"{value:.{decimals}f}"
    if isinstance(value, float):
        return str(round(value))
    return str(value)


def _line(cells, fields, delimiter, trailer) -> str:
    if delimiter is not None:
        return delimiter.join(cells) + trailer
    out = []
    for cell, name in zip(cells, fields, strict=True):
        width = FIELDS[name][1]
        cell = cell[:width]
        out.append(cell.ljust(width) if name == "Account" else cell.rjust(width))
    return " ".join(out)


def job_lines(answer, header=True, parsable=False, parsable2=False) -> list[str]:
    """sprio's lines: each pending job's weighted factors, highest priority first."""
    delimiter, trailer = _separators(parsable, parsable2)
    weights = answer["weights"]
    lines = []
    if header:
        lines.append(_job_line([column[0] for column in JOB_COLUMNS], delimiter, trailer))
    for job in sorted(answer["jobs"], key=lambda job: (-job["priority"], job["id"])):
        factors = job["factors"]
        cells = [str(job["id"]), job["queue"] or "", job["user"], job["account"],
                 str(job["priority"])]
        for name in JOB_FACTORS:
            cells.append(str(round(weights[f"weight-{name}"] * factors[name])))
        lines.append(_job_line(cells, delimiter, trailer))
    return lines


def _job_line(cells, delimiter, trailer) -> str:
    if delimiter is not None:
        return delimiter.join(cells) + trailer
    return " ".join(cell[:width].rjust(width)
                    for cell, (_header, width) in zip(cells, JOB_COLUMNS, strict=True))
