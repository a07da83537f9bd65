"""``corral share``: the fair-share plugin's usage and factors, as Slurm's ``sshare`` (and with
``--jobs``, ``sprio``) print them (`corral.slurm.shares`)."""

import sys

from ..client import connect
from ..slurm import shares


def register(subparsers):
    parser = subparsers.add_parser("share", help="fair-share usage and factors (sshare)")
    parser.add_argument("-a", "--all", action="store_true",
                        help="every user (the default; accepted as sshare's)")
    parser.add_argument("-A", "--accounts", help="only these accounts (comma-separated)")
    parser.add_argument("-u", "--users", help="only these users (comma-separated)")
    parser.add_argument("-l", "--long", action="store_true", help="add NormUsage")
    parser.add_argument("-n", "--noheader", action="store_true", help="no header lines")
    parser.add_argument("-P", "--parsable2", action="store_true",
                        help="'|'-separated, no trailing '|'")
    parser.add_argument("-p", "--parsable", action="store_true",
                        help="'|'-separated, with a trailing '|'")
    parser.add_argument("-j", "--jobs", action="store_true",
                        help="each pending job's weighted factors instead (sprio)")
    parser.set_defaults(func=main)


def main(args) -> int:
    try:
        with connect() as client:
            answer = shares.usage(client)
    except shares.NotLoaded as exc:
        print(f"corral share: {exc}", file=sys.stderr)
        return 1
    if args.jobs:
        lines = shares.job_lines(answer, not args.noheader, args.parsable, args.parsable2)
    else:
        lines = shares.share_lines(answer, args.long, args.accounts, args.users, not args.noheader,
                            args.parsable, args.parsable2)
    for line in lines:
        print(line)
    return 0
