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
    parser.add_argument("--connect", metavar="URI",
                        help="the controller's [agents] listen address (tcp://HOST:PORT or "
                             "ipc://PATH; required)")
    parser.add_argument("--key-dir", metavar="DIR",
                        help="holds controller.key and agents/HOSTNAME.key_secret (required)")
    parser.add_argument("--config", metavar="PATH",
                        help="the configuration whose [prep] section gives this node's "
                             "prolog and epilog (the controller's own, as every slurmd "
                             "reads slurm.conf; default: no node hooks)")
    parser.add_argument("--hostname", metavar="NAME",
                        help="register as NAME (default: this machine's hostname)")
    parser.add_argument("--socket", metavar="PATH",
                        help="serve corral commands on this node at PATH "
                             "(CORRAL_URI=local://PATH), forwarded to the controller as "
                             "their caller")
    parser.add_argument("--exit-on-eof", action="store_true",
                        help="stop when standard input closes (how corral start "
                             "--bootstrap=ssh ends the agents it started)")
    parser.add_argument("--heartbeat-interval", type=float, default=2.0, metavar="SECONDS")
    parser.add_argument("--unresponsive-after", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--lost-after", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--print-unit", action="store_true",
                        help="print a systemd unit that runs this node's agent, and exit")
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

    from .. import config as config_module
    from .. import idle, logs
    from ..agent import daemon
    from ..agent.prep import node_host
    from ..prep.loader import PrepError
    from ..transport import KeyMaterialError, Settings

    if args.print_unit:
        from .start import unit_text

        sys.stdout.write(unit_text("corral-agent.service"))
        return 0
    if not args.connect or not args.key_dir:
        print("corral agent: --connect URI and --key-dir DIR are required", file=sys.stderr)
        return 1
    logs.to_stderr(logging.INFO - 10 * min(args.verbose, 1))
    try:
        settings = Settings(args.heartbeat_interval, args.unresponsive_after, args.lost_after)
        reattach_timeout = args.reattach_timeout
        if reattach_timeout is None:
            reattach_timeout = daemon.REATTACH_TIMEOUT
        elif reattach_timeout <= 0:
            raise ValueError("--reattach-timeout must be a positive number of seconds")
        prep = node_host(args.config)
        if args.exit_on_eof:
            from ..agent.bootstrap import exit_on_eof

            exit_on_eof()
        with asyncio.Runner(loop_factory=idle.IdleLoop) as runner:
            return runner.run(daemon.run(args.connect, args.key_dir, args.hostname, settings,
                                         prep, args.socket, reattach_timeout, args.exit_alone))
    except (KeyMaterialError, ValueError, config_module.ConfigError, PrepError) as exc:
        print(f"corral agent: {exc}", file=sys.stderr)
        return 1
