"""``corral agent``: run this node's agent, connected to the controller.

Thin over `corral.agent.daemon`; the clocks are the controller's ``[agents]`` ones, given
here as options (both ends must agree on them).
"""

import sys


def register(subparsers):
    parser = subparsers.add_parser(
        "agent", connects=False, help="run a node agent connected to the controller",
        description="Run this node's agent: it registers with the controller at URI under "
                    "its hostname and runs the tasks the controller places on this node.",
    )
    parser.add_argument("--connect", required=True, metavar="URI",
                        help="the controller's [agents] listen address (tcp://HOST:PORT or "
                             "ipc://PATH)")
    parser.add_argument("--key-dir", required=True, metavar="DIR",
                        help="holds controller.key and agents/HOSTNAME.key_secret")
    parser.add_argument("--hostname", metavar="NAME",
                        help="register as NAME (default: this machine's hostname)")
    parser.add_argument("--heartbeat-interval", type=float, default=2.0, metavar="SECONDS")
    parser.add_argument("--unresponsive-after", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--lost-after", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--reattach-timeout", type=float, metavar="SECONDS",
                        help="kill the tasks after this long without a controller "
                             "(default 300)")
    parser.add_argument("--exit-alone", action="store_true",
                        help="also exit once no controller was heard for --reattach-timeout "
                             "and no task is left (as the agents a persistent instance "
                             "starts do)")
    parser.add_argument("--verbose", "-v", action="count", default=0,
                        help="log more to stderr (twice for debug)")
    parser.set_defaults(func=main)


def main(args) -> int:
    import asyncio
    import logging

    from .. import logs
    from ..agent import daemon
    from ..transport import KeyMaterialError, Settings

    logs.to_stderr(logging.INFO - 10 * min(args.verbose, 1))
    try:
        settings = Settings(args.heartbeat_interval, args.unresponsive_after, args.lost_after)
        reattach_timeout = args.reattach_timeout
        if reattach_timeout is None:
            reattach_timeout = daemon.REATTACH_TIMEOUT
        elif reattach_timeout <= 0:
            raise ValueError("--reattach-timeout must be a positive number of seconds")
        return asyncio.run(daemon.run(args.connect, args.key_dir, args.hostname, settings,
                                      reattach_timeout, args.exit_alone))
    except (KeyMaterialError, ValueError) as exc:
        print(f"corral agent: {exc}", file=sys.stderr)
        return 1
