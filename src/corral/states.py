"""RFC 21 job states and results.

Owns the numeric state bits, their names, the virtual state masks, the result codes and the
job flag bits.
It must not know how a job moves between states: that is `jobmanager.event`'s job alone.
"""

from enum import IntEnum, IntFlag


class State(IntFlag):
    """Job states as RFC 21 numbers them (one bit each, so masks can be combined)."""

    NEW = 1
    DEPEND = 2
    PRIORITY = 4
    SCHED = 8
    RUN = 16
    CLEANUP = 32
    INACTIVE = 64

    PENDING = DEPEND | PRIORITY | SCHED
    RUNNING = RUN | CLEANUP
    ACTIVE = PENDING | RUNNING | NEW


class Result(IntEnum):
    """How an inactive job ended (RFC 21 results)."""

    COMPLETED = 1
    FAILED = 2
    CANCELED = 4
    TIMEOUT = 8


# The same values as plain ints, for the job manager's hot paths: IntFlag operators, hashing
# and even attribute lookup go through the enum machinery and cost several times more than
# int operations, once per event of every job.  Job records hold these ints.
NEW, DEPEND, PRIORITY, SCHED, RUN, CLEANUP, INACTIVE = 1, 2, 4, 8, 16, 32, 64
PENDING, RUNNING = DEPEND | PRIORITY | SCHED, RUN | CLEANUP

STATE_NAMES = {
    State.NEW: "NEW",
    State.DEPEND: "DEPEND",
    State.PRIORITY: "PRIORITY",
    State.SCHED: "SCHED",
    State.RUN: "RUN",
    State.CLEANUP: "CLEANUP",
    State.INACTIVE: "INACTIVE",
}

#: Lower-case names as they appear in topics (`job.state.sched`) and filters.
STATE_TOPIC_NAMES = {state: name.lower() for state, name in STATE_NAMES.items()}

#: Single-letter abbreviations used in `corral jobs` output, as flux-jobs prints them.
STATE_SHORT_NAMES = {
    State.NEW: "N",
    State.DEPEND: "D",
    State.PRIORITY: "P",
    State.SCHED: "S",
    State.RUN: "R",
    State.CLEANUP: "C",
    State.INACTIVE: "I",
}

RESULT_NAMES = {result: result.name for result in Result}
RESULT_SHORT_NAMES = {
    Result.COMPLETED: "CD",
    Result.FAILED: "F",
    Result.CANCELED: "CA",
    Result.TIMEOUT: "TO",
}


def parse_states(text: str) -> int:
    """Turn a filter such as ``pending,running`` or ``sched`` into a state mask.

    Accepts state names, the virtual names ``pending``, ``running``, ``active`` and
    ``inactive``, case-insensitively, separated by commas.
    """
    names = {name.lower(): int(state) for name, state in State.__members__.items()}
    mask = 0
    for word in text.split(","):
        word = word.strip().lower()
        if word not in names:
            raise ValueError(f"invalid state '{word}' in filter '{text}'")
        mask |= names[word]
    return mask


def parse_results(text: str) -> int:
    """Turn a filter such as ``failed,timeout`` into a result mask."""
    names = {name.lower(): int(result) for name, result in Result.__members__.items()}
    mask = 0
    for word in text.split(","):
        word = word.strip().lower()
        if word not in names:
            raise ValueError(f"invalid result '{word}' in filter '{text}'")
        mask |= names[word]
    return mask


#: Bits of a job's flags: RFC 21's submit flags and the ``set-flags`` names.
JOB_FLAGS = {"debug": 2, "waitable": 4, "novalidate": 8, "immutable": 16, "alloc-bypass": 32}
#: The flags a submitter may ask for (``corral submit --flags``, flux-core's submit flags).
SUBMIT_FLAGS = ("debug", "waitable", "novalidate")
