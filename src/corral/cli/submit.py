"""``corral submit``: build (or read) jobspecs and submit them; print the ids.

The job options are shared with ``corral run`` and follow ``flux submit``.
"""

import argparse
import fnmatch
import os
import re
import sys

from .. import idset
from .. import jobspec as jobspec_module
from ..client import RPCError, connect
from ..states import JOB_FLAGS, SUBMIT_FLAGS
from . import CommandError, command_words
from .interrupt import Interrupted
from .progress import Progress

_URGENCY_WORDS = {"hold": 0, "default": 16, "expedite": 31}


def add_job_options(parser):
    parser.add_argument("-n", "--ntasks", type=int, help="number of tasks")
    parser.add_argument("-N", "--nodes", type=int, help="number of nodes")
    parser.add_argument("-c", "--cores-per-task", type=int, default=1, help="cores per task")
    parser.add_argument("-g", "--gpus-per-task", type=int, default=0, help="GPUs per task")
    parser.add_argument("-x", "--exclusive", action="store_true", default=None,
                        help="whole nodes")
    parser.add_argument("-t", "--time-limit", metavar="FSD",
                        help="time limit (FSD; a plain number means minutes, as in Flux)")
    parser.add_argument("--cwd", help="working directory (default: the current one)")
    parser.add_argument("--env", action="append", default=[], metavar="RULE",
                        help="VAR=VAL sets, -GLOB removes, GLOB exports from this environment")
    parser.add_argument("-q", "--queue",
                        help="queue to submit to (several, comma-separated: the first that "
                             "can run the job)")
    parser.add_argument("--requires", metavar="CONSTRAINT",
                        help="run only on nodes that match (gpu&bigmem, a|b, ^slow, "
                             "host:node[0-3], rank:0-3)")
    parser.add_argument("--job-name", help="job name (default: the command's name)")
    parser.add_argument("--urgency", default="16", help="0-31, or hold, default, expedite")
    parser.add_argument("--dependency", action="append", default=[], metavar="DEP",
                        help="scheme:value[?key=val], e.g. afterok:12")
    parser.add_argument("--begin-time", metavar="TIME",
                        help="do not start before TIME (epoch, ISO 8601, or +FSD)")
    parser.add_argument("--output", help="stdout to FILE ({{id}} is the job id)")
    parser.add_argument("-e", "--error", help="stderr to FILE ({{id}} is the job id)")
    parser.add_argument("-l", "--label-io", action="store_true",
                        help="prefix each line of output with its task rank")
    parser.add_argument("-o", "--setopt", action="append", default=[], metavar="KEY=VAL",
                        help="set a shell option (attributes.system.shell.options.KEY)")
    parser.add_argument("-S", "--setattr", action="append", default=[], metavar="KEY=VAL",
                        help="set a jobspec attribute (system. assumed)")
    parser.add_argument("--flags", default="", help="comma list of job flags: waitable, debug")
    parser.add_argument("--jobspec", metavar="FILE", help="submit this jobspec (YAML or JSON)")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")


#: Job options that are not part of the jobspec, so that they go with ``--jobspec`` too.
_REQUEST_OPTIONS = ("urgency", "flags", "jobspec")


def options_given_with_jobspec(args) -> list[str]:
    """The options (and COMMAND) that would build a jobspec, given with ``--jobspec``, whose
    file replaces them all: refused rather than silently dropped, so that ``-t 10m`` or a
    command typed with a jobspec file is not lost without a word."""
    parser = argparse.ArgumentParser(add_help=False)
    add_job_options(parser)
    defaults = vars(parser.parse_args([]))
    given = ["--" + dest.replace("_", "-") for dest, default in defaults.items()
             if dest not in (*_REQUEST_OPTIONS, "command") and getattr(args, dest) != default]
    return given + (["COMMAND"] if command_words(args.command) else [])


def parse_urgency(text) -> int:
    if text in _URGENCY_WORDS:
        return _URGENCY_WORDS[text]
    try:
        value = int(text)
    except ValueError:
        raise CommandError(f"invalid urgency '{text}' (0-31, hold, default, expedite)") from None
    return value


def parse_flags(text) -> int:
    bits = 0
    for word in filter(None, text.split(",")):
        if word not in SUBMIT_FLAGS:
            raise CommandError(f"unknown job flag '{word}'")
        bits |= JOB_FLAGS[word]
    return bits


def environment(rules) -> dict:
    """The job's environment: this one, edited by ``--env`` rules in order (as Flux)."""
    env = dict(os.environ)
    for rule in rules:
        if rule.startswith("-"):
            pattern = rule[1:]
            for name in [n for n in env if fnmatch.fnmatchcase(n, pattern)]:
                del env[name]
        elif "=" in rule:
            name, _, value = rule.partition("=")
            env[name] = re.sub(r"\$(\w+)|\$\{(\w+)\}",
                               lambda m: os.environ.get(m.group(1) or m.group(2), ""), value)
        else:
            for name, value in os.environ.items():
                if fnmatch.fnmatchcase(name, rule):
                    env[name] = value
    return env


def time_limit(text):
    if text is None:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return text + "m"
    return text


def build_jobspec(args, extra_env=None, stdin=False) -> dict:
    env = environment(args.env)
    if extra_env:
        env.update(extra_env)
    if args.jobspec:
        given = options_given_with_jobspec(args)
        if given:
            raise CommandError(f"{', '.join(given)}: not with --jobspec=FILE, which is the "
                               "whole job")
        spec = jobspec_module.load(args.jobspec)
        if extra_env:
            system = spec.setdefault("attributes", {}).setdefault("system", {})
            system.setdefault("environment", {}).update(extra_env)
        return spec
    command = command_words(args.command)
    if not command:
        raise CommandError("a COMMAND (or --jobspec=FILE) is required")
    return jobspec_module.build(
        command,
        ntasks=args.ntasks,
        nnodes=args.nodes,
        cores_per_task=args.cores_per_task,
        gpus_per_task=args.gpus_per_task,
        exclusive=args.exclusive,
        duration=time_limit(args.time_limit),
        cwd=args.cwd or os.getcwd(),
        environment=env,
        queue=args.queue,
        requires=args.requires,
        name=args.job_name,
        dependencies=args.dependency,
        begin_time=args.begin_time,
        output=args.output,
        error=args.error,
        label_io=args.label_io,
        stdin=stdin,
        setopt=args.setopt,
        setattr=args.setattr,
    )


def copy_of(args, cc: int):
    """The options of copy ``cc`` of a ``--cc`` submission: ``{cc}`` in the command and in
    the ``--output``/``-e`` paths becomes its number, as ``flux submit`` does."""
    def substitute(text):
        return text.replace("{cc}", str(cc)) if text is not None else None

    return argparse.Namespace(**dict(
        vars(args), command=[substitute(word) for word in args.command],
        output=substitute(args.output), error=substitute(args.error)))


def register(subparsers):
    parser = subparsers.add_parser("submit", help="submit jobs, print their ids")
    add_job_options(parser)
    parser.add_argument("--cc", metavar="IDSET",
                        help="submit one copy per id (CORRAL_JOB_CC set in each, {cc} "
                             "replaced in the command and --output/-e)")
    parser.set_defaults(func=main)


def main(args) -> int:
    urgency = parse_urgency(args.urgency)
    flags = parse_flags(args.flags)
    try:
        if args.cc is not None:
            try:
                copies = idset.decode(args.cc)
            except ValueError as exc:
                raise CommandError(f"--cc: {exc}") from None
            if not copies:
                raise CommandError("--cc: no ids given (e.g. --cc=1-10)")
            specs = [build_jobspec(copy_of(args, cc), {"CORRAL_JOB_CC": str(cc)})
                     for cc in copies]
        else:
            specs = [build_jobspec(args)]
    except jobspec_module.JobspecError as exc:
        print(f"corral submit: {exc}", file=sys.stderr)
        return 1
    status = 0
    with connect() as client:
        with Interrupted("corral submit") as interrupted, \
                Progress("submit", len(specs), enabled=bool(args.cc)) as progress:
            results = client.submit_many(specs, urgency=urgency, flags=flags,
                                         progress=progress.update, stop=interrupted)
        for result in results:
            if isinstance(result, RPCError):
                print(f"corral submit: {result.strerror}", file=sys.stderr)
                status = 1
            else:
                print(result)
    if len(results) < len(specs):
        submitted = sum(not isinstance(result, RPCError) for result in results)
        print(f"corral submit: interrupted: {submitted} of {len(specs)} jobs submitted (their "
              f"ids above), the other {len(specs) - len(results)} not sent", file=sys.stderr)
        return 130
    return status
