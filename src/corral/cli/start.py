"""``corral start``: run an instance, optionally just for the length of one command.

Without a command it says on stderr where it serves and the line that points commands at
it, and serves until SIGTERM; with one, that command gets ``CORRAL_URI`` in its environment
(as ``flux start`` gives its initial program ``FLUX_URI``) and start says nothing, so the
command's output is all there is.  ``--system`` starts the system instance (`corral.system`).
"""

import argparse
import os
import shutil
import sys

from .. import system
from . import command_words


def register(subparsers):
    parser = subparsers.add_parser(
        "start", connects=False, help="start an instance",
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
    parser.add_argument("--agents", choices=("process", "in-process"), default="process",
                        help="with --state-dir, serve this machine's nodes by agent processes "
                             "whose jobs outlive the controller (process, the default), or "
                             "inside the controller, whose jobs end with it (in-process)")
    parser.add_argument("--bootstrap", choices=("ssh", "slurm"),
                        help="start the agents too: over ssh on each declared node, or with "
                             "srun on each node of SLURM_JOB_NODELIST (needs --listen)")
    parser.add_argument("--system", action="store_true",
                        help="the site's instance for all users: state in /var/lib/corral, "
                             "socket /run/corral/local.sock, configuration /etc/corral/, "
                             "guests allowed, logs for a service manager (paths under "
                             "$CORRAL_SYSTEM_PREFIX when set)")
    parser.add_argument("--print-unit", action="store_true",
                        help="print a systemd unit that runs 'corral start --system', and exit")
    parser.add_argument("--verbose", "-v", action="count", default=0,
                        help="log more to stderr, with tracebacks (twice for debug)")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND")
    parser.set_defaults(func=main)


def unit_text(name: str = "corral.service") -> str:
    """The packaged systemd unit ``name``, its ExecStart naming this Python's corral."""
    from importlib import resources

    template = resources.files("corral").joinpath(f"data/{name}").read_text()
    return template.replace("@CORRAL@", f"{sys.executable} -m corral")


def main(args) -> int:
    # Imported here so that other commands do not pay for the controller's modules.
    import asyncio
    import logging

    from .. import config as config_module
    from .. import idle, logs
    from ..instance import Instance, StartupError, serve
    from ..store import StoreError

    if args.print_unit:
        sys.stdout.write(unit_text())
        return 0
    command = command_words(args.cmd)
    if args.test_size is not None and args.test_size < 1:
        print("corral start: --test-size must be at least 1", file=sys.stderr)
        return 1
    # A system instance logs what it does (INFO); an instance of one's own only problems.
    quiet = logging.INFO if args.system else logging.WARNING
    logs.to_stderr(quiet - 10 * min(args.verbose, 2), tracebacks=args.verbose > 0,
                   one_line=args.system)
    config_path, state_dir, socket_path = args.config, args.state_dir, None
    if args.system:
        if config_path is None and os.path.exists(system.config_dir()):
            config_path = system.config_dir()
        state_dir = state_dir or system.state_dir()
        socket_path = system.socket_path()
    try:
        config = config_module.load(config_path)
        if args.system:
            config = config.with_default("access.allow-guest-user", True)
    except config_module.ConfigError as exc:
        print(f"corral start: {exc}", file=sys.stderr)
        return 1
    state_dir = os.path.abspath(state_dir) if state_dir else None
    bootstrap = None
    try:
        if args.bootstrap:
            config, bootstrap = _bootstrap(args, config, config_path)
    except (config_module.ConfigError, ValueError) as exc:
        print(f"corral start: {exc}", file=sys.stderr)
        return 1
    instance = Instance(config, state_dir, args.test_size, args.listen, args.key_dir,
                        socket_path, agent_processes=args.agents == "process")

    async def ready():
        if bootstrap is not None:
            await bootstrap.start()
        if not command and not args.system:
            print(f"corral: serving at {instance.uri}\nexport CORRAL_URI={instance.uri}",
                  file=sys.stderr, flush=True)

    async def run():
        try:
            return await serve(instance, command or None, ready)
        finally:
            if bootstrap is not None:
                await bootstrap.stop()

    try:
        with asyncio.Runner(loop_factory=idle.IdleLoop) as runner:
            return runner.run(run())
    except (config_module.ConfigError, StoreError, StartupError) as exc:
        print(f"corral start: {exc}", file=sys.stderr)
        if instance.temporary_state_dir:
            shutil.rmtree(instance.state_dir, ignore_errors=True)
        return 1


def _bootstrap(args, config, config_path):
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
                                  from_config(config), config_path)
    return config, bootstrap.Bootstrap(args.bootstrap, commands)
