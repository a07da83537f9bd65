"""The limits on what a client may send, in one place.

Each bound keeps one user's input from costing the controller (memory, CPU) or what it starts
(``execve``, root PrEp scripts) more than any real job needs; input over a bound is refused
where it arrives, in one sentence that names the bound. docs/config.md lists them for users.
"""

#: Largest request frame the controller reads: a submit batch of jobspecs is one frame, and
#: the client splits its batches to fit. A longer frame is skipped unread and refused.
MAX_REQUEST_FRAME = 4 * 1024 * 1024
#: Largest reply frame a client reads (replies come from the controller, which is trusted).
MAX_REPLY_FRAME = 256 * 1024 * 1024
#: Deepest nesting of JSON arrays and objects in a jobspec, a memo or an update value.
MAX_DEPTH = 32
#: Largest jobspec, as compact JSON text without its environment (which `MAX_EXEC_BYTES`
#: bounds with the command, and which the store keeps apart).
MAX_JOBSPEC = 2 * 1024 * 1024
#: Largest environment plus command, counted as ``execve`` counts them (each string and its
#: NUL): well under the kernel's ``ARG_MAX`` so that PrEp scripts still get theirs.
MAX_EXEC_BYTES = 1024 * 1024
#: Longest single command argument or ``NAME=VALUE`` environment string (the kernel's
#: ``MAX_ARG_STRLEN`` is 128 KiB with the NUL).
MAX_EXEC_STRING = 128 * 1024 - 1
#: Longest path (cwd, ``-o``, ``-e``), in bytes (``PATH_MAX`` with its NUL).
MAX_PATH = 4095
#: Longest short text: job name, queue, account, qos, comment, labels, dependencies, notes.
MAX_TEXT = 4096
#: Largest memo (``corral job memo``), as compact JSON text.
MAX_MEMO = 64 * 1024
#: Largest count in a jobspec, and largest total of nodes, slots, cores or gpus.
MAX_COUNT = 1024 * 1024
#: Most tasks in one job: exec builds a record for each and an agent starts each as a process
#: (Slurm's largest ``MaxTasksPerNode`` is 65533).
MAX_TASKS = 65536
#: Longest error text sent back; texts that quote input are cut here.
MAX_ERROR_TEXT = 1024
#: Longest quotation of a bad value inside an error text.
MAX_QUOTED = 64


def shorten(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    """``text`` on one line (control characters escaped: input may hold them) and cut to
    ``limit`` characters, with ``...`` saying it was cut."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    if not text.isprintable():
        text = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quote(value: object) -> str:
    """``repr(value)`` for an error text, cut to `MAX_QUOTED` characters."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        return "a number too long to show"
    return shorten(text, MAX_QUOTED)


def too_deep(value: dict | list, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects nest in ``value`` (itself one level) more than ``limit``
    levels deep."""
    if limit <= 0:
        return True
    for item in value.values() if isinstance(value, dict) else value:
        if isinstance(item, (dict, list)) and too_deep(item, limit - 1):
            return True
    return False
