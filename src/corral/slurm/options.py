"""Slurm command-line options: the table of what corral's sbatch, srun and salloc accept, a
parser with Slurm's spellings (``--opt=val``, ``--opt val``, ``-n4``, ``-n 4``, flags), and the
``#SBATCH`` directives of a batch script.

An option Slurm has but corral does not is refused with one sentence naming it: a silently
ignored option would run the job differently from what its author asked.  Parsing stops at
the first argument that is not an option (the script or command), as Slurm's does, so the
command's own options are left alone.  This module knows nothing of jobspecs.
"""


class OptionError(ValueError):
    """A command line or directive corral cannot honour; the message names the option."""


class Option:
    """One option; ``repeat`` counts a flag given again (``-vv``), ``accumulate`` joins the
    values of a list option given again with commas (sacct's ``-j 1 -j 2``); any other
    option given again keeps its last value."""

    __slots__ = ("long", "short", "dest", "takes_value", "optional_value", "repeat",
                 "accumulate")

    def __init__(self, long, short=None, takes_value=True, dest=None, optional_value=False,
                 repeat=False, accumulate=False):
        self.long = long
        self.short = short
        self.dest = dest or long.replace("-", "_")
        self.takes_value = takes_value
        self.optional_value = optional_value
        self.repeat = repeat
        self.accumulate = accumulate


#: Every option of the job-submitting commands (sbatch, srun, salloc).
JOB_OPTIONS = [
    Option("ntasks", "n"),
    Option("nodes", "N"),
    Option("ntasks-per-node"),
    Option("cpus-per-task", "c"),
    Option("gpus-per-task"),
    Option("gres"),
    Option("exclusive", takes_value=False, optional_value=True),
    Option("constraint", "C"),
    Option("time", "t"),
    Option("job-name", "J"),
    Option("partition", "p"),
    Option("account", "A"),
    Option("qos", "q"),
    Option("comment"),
    Option("output", "o"),
    Option("error", "e"),
    Option("input", "i"),
    Option("chdir", "D"),
    Option("export"),
    Option("dependency", "d"),
    Option("begin", "b"),
    Option("hold", "H", takes_value=False),
    Option("requeue", takes_value=False),
    Option("no-requeue", takes_value=False),
    Option("signal"),
    Option("mem"),
    Option("mem-per-cpu"),
    Option("wckey"),
    Option("quiet", "Q", takes_value=False),
    Option("verbose", "v", takes_value=False, repeat=True),
]

#: Options only some commands have.
SBATCH_ONLY = [
    Option("array", "a"),
    Option("wrap"),
    Option("wait", "W", takes_value=False),
    Option("parsable", takes_value=False),
    Option("open-mode"),
]
SRUN_ONLY = [
    Option("label", "l", takes_value=False),
    Option("unbuffered", "u", takes_value=False),
    Option("open-mode"),
    Option("cpu-bind"),
]


def _index(options):
    by_long = {option.long: option for option in options}
    by_short = {option.short: option for option in options if option.short}
    return by_long, by_short


def parse(command: str, argv: list[str], options, values: dict | None = None,
          where: str = "") -> tuple[dict, list[str]]:
    """Parse ``argv`` up to its first non-option; return ``(values, rest)``.

    ``values`` given are updated (later options win, as on Slurm's command line); ``where``
    names the place for messages (``line 3 of job.sh``).
    """
    by_long, by_short = _index(options)
    values = {} if values is None else values
    at = f" ({where})" if where else ""
    index = 0
    while index < len(argv):
        argument = argv[index]
        if argument == "--":
            index += 1
            break
        if not argument.startswith("-") or argument == "-":
            break
        if argument.startswith("--"):
            name, equals, value = argument[2:].partition("=")
            option = by_long.get(name)
            if option is None:
                option = _unique_prefix(name, by_long)
            if option is None:
                raise OptionError(f"unrecognized option '--{name}'{at}")
            if not option.takes_value:
                if equals and not option.optional_value:
                    raise OptionError(f"option '--{name}' takes no value{at}")
                _store(values, option, value if equals else True)
                index += 1
                continue
            if not equals:
                index += 1
                if index >= len(argv):
                    raise OptionError(f"option '--{name}' requires an argument{at}")
                value = argv[index]
            _store(values, option, value)
            index += 1
            continue
        letters = argument[1:]
        position = 0
        while position < len(letters):
            letter = letters[position]
            option = by_short.get(letter)
            if option is None:
                raise OptionError(f"invalid option -- '{letter}'{at}")
            if not option.takes_value:
                _store(values, option, True)
                position += 1
                continue
            value = letters[position + 1:]
            if not value:
                index += 1
                if index >= len(argv):
                    raise OptionError(f"option requires an argument -- '{letter}'{at}")
                value = argv[index]
            _store(values, option, value)
            break
        index += 1
    return values, argv[index:]


def _unique_prefix(name, by_long):
    """getopt_long accepts an unambiguous abbreviation (``--part=debug``)."""
    matches = [option for long, option in by_long.items() if long.startswith(name)]
    return matches[0] if name and len(matches) == 1 else None


def _store(values, option, value):
    if option.repeat:
        values[option.dest] = values.get(option.dest, 0) + 1
    elif option.accumulate and values.get(option.dest):
        values[option.dest] = f"{values[option.dest]},{value}"
    else:
        values[option.dest] = value


def directives(script: str, prefix: str = "#SBATCH") -> list[tuple[int, list[str]]]:
    """The ``#SBATCH`` lines of ``script`` as ``(line number, words)``.

    As in Slurm, directives are read until the first line that is neither blank, a comment
    nor a directive; a directive's words are split as the shell would, and a ``#`` that starts
    a word ends the directive (a comment).
    """
    import shlex  # only scripts need it; squeue and scancel parse options too

    found = []
    for number, line in enumerate(script.splitlines(), 1):
        stripped = line.strip()
        if number == 1 and stripped.startswith("#!"):
            continue
        if not stripped or stripped.startswith("#") and not stripped.startswith(prefix):
            continue
        if not stripped.startswith(prefix):
            break
        rest = stripped[len(prefix):]
        if rest and not rest[0].isspace():
            continue  # #SBATCHX is a comment
        try:
            words = shlex.split(rest, comments=True)
        except ValueError as exc:
            raise OptionError(f"cannot read the #SBATCH line {number}: {exc}") from None
        if words:
            found.append((number, words))
    return found


def script_options(command: str, script: str, options, where: str) -> dict:
    """The options given by the ``#SBATCH`` lines of ``script`` (named ``where``)."""
    values: dict = {}
    for number, words in directives(script):
        _, rest = parse(command, words, options, values, f"line {number} of {where}")
        if rest:
            raise OptionError(f"unexpected '{rest[0]}' in the #SBATCH line {number} of {where}")
    return values
