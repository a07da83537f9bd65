"""``corral help [COMMAND...]``: the list of commands, or one command's ``--help``."""

from . import COMMANDS, CommandError, build_parser


def register(subparsers):
    parser = subparsers.add_parser("help", connects=False,
                                   help="list the commands, or describe one")
    parser.add_argument("topic", nargs="*", metavar="COMMAND",
                        help="a command, and a subcommand of it (corral help job kill)")
    parser.set_defaults(func=main)


def main(args) -> int:
    if not args.topic:
        build_parser().print_help()
        return 0
    if args.topic[0] not in COMMANDS:
        raise CommandError(f"no command '{args.topic[0]}' (corral help lists them)")
    build_parser(args.topic[0]).parse_args([*args.topic, "--help"])
    return 0
