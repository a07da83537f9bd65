"""``corral start``: run an instance, optionally just for the length of one command."""

import argparse
import os
import shutil
import sys


def register(subparsers):
    parser = subparsers.add_parser(
        "start", help="start an instance",
        description="Start a corral instance. With COMMAND, run it with CORRAL_URI set and "
                    "stop when it exits, with its exit status; without, serve until SIGTERM.",
    )
    parser.add_argument("--test-size", type=int, metavar="N",
                        help="make N nodes (node0..) that share this machine's cores")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="keep jobs here across restarts (default: a temporary directory)")
    parser.add_argument("--config", metavar="PATH", help="a TOML file or directory of them")
    parser.add_argument("--listen", metavar="URI",
                        help="serve the declared nodes by agents that connect here "
                             "(tcp://ADDR:PORT or ipc://PATH; default: [agents] listen)")
    parser.add_argument("--key-dir", metavar="DIR",
                        help="the CURVE keys made by corral keygen (default: [agents] key-dir)")
    parser.add_argument("--bootstrap", choices=("ssh", "slurm"),
                        help="start the agents too: over ssh on each declared node, or with "
                             "srun on each node of SLURM_JOB_NODELIST (needs --listen)")
    parser.add_argument("--verbose", "-v", action="count", default=0,
                        help="log to stderr (twice for debug)")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND")
    parser.set_defaults(func=main)


def main(args) -> int:
    # Imported here so that other commands do not pay for the controller's modules.
    import asyncio
    import logging

    from .. import config as config_module
    from ..instance import Instance, StartupError, serve
    from ..store import StoreError

    command = args.cmd
    if command and command[0] == "--":
        command = command[1:]
    if args.test_size is not None and args.test_size < 1:
        print("corral start: --test-size must be at least 1", file=sys.stderr)
        return 1
    try:
        config = config_module.load(args.config)
    except config_module.ConfigError as exc:
        print(f"corral start: {exc}", file=sys.stderr)
        return 1
    level = logging.WARNING - 10 * min(args.verbose, 2)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
    handler.setLevel(level)
    root = logging.getLogger("corral")
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    state_dir = os.path.abspath(args.state_dir) if args.state_dir else None
    bootstrap = None
    try:
        if args.bootstrap:
            config, bootstrap = _bootstrap(args, config)
    except (config_module.ConfigError, ValueError) as exc:
        print(f"corral start: {exc}", file=sys.stderr)
        return 1
    instance = Instance(config, state_dir, args.test_size, args.listen, args.key_dir)

    async def run():
        try:
            return await serve(instance, command or None,
                               bootstrap.start if bootstrap is not None else None)
        finally:
            if bootstrap is not None:
                await bootstrap.stop()

    try:
        return asyncio.run(run())
    except (config_module.ConfigError, StoreError, StartupError) as exc:
        print(f"corral start: {exc}", file=sys.stderr)
        if instance.temporary_state_dir:
            shutil.rmtree(instance.state_dir, ignore_errors=True)
        return 1


def _bootstrap(args, config):
    """``(config, Bootstrap)`` for ``--bootstrap``: the configuration with the allocation's
    nodes (slurm), and the processes that will start the agents (ValueError, ConfigError)."""
    from .. import config as config_module
    from ..agent import bootstrap
    from ..transport.settings import from_config

    if args.bootstrap == "slurm":
        config = bootstrap.with_allocation_nodes(config, os.environ)
    listen = args.listen or config.get_str("agents.listen")
    key_dir = args.key_dir or config.get_str("agents.key-dir")
    if not listen or not key_dir:
        raise ValueError(f"--bootstrap={args.bootstrap} starts agents, which need --listen "
                         "(or [agents] listen) and --key-dir (or [agents] key-dir)")
    if not config_module.resource_config(config):
        raise ValueError("--bootstrap=ssh starts an agent on each node declared in "
                         "[[resource.config]], and none is declared")
    commands = bootstrap.commands(args.bootstrap, config, listen, key_dir,
                                  from_config(config), args.config)
    return config, bootstrap.Bootstrap(args.bootstrap, commands)
