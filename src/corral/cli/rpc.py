"""``corral rpc`` (call any service, print the answer) and ``corral dmesg`` (the log)."""

import json
import sys

from ..client import connect


def register(subparsers):
    parser = subparsers.add_parser("rpc", help="call a service and print its answer")
    parser.add_argument("topic")
    parser.add_argument("payload", nargs="?", help="JSON payload")
    parser.add_argument("--stream", action="store_true", help="print every streamed answer")
    parser.set_defaults(func=_rpc)
    dmesg = subparsers.add_parser("dmesg", help="print the controller's recent log")
    dmesg.add_argument("-C", "--clear", action="store_true", help="clear it after printing")
    dmesg.set_defaults(func=_dmesg)
    shutdown = subparsers.add_parser("shutdown", help="stop the instance")
    shutdown.set_defaults(func=_shutdown)


def _rpc(args):
    payload = None
    if args.payload is not None:
        try:
            payload = json.loads(args.payload)
        except json.JSONDecodeError as exc:
            print(f"corral rpc: payload is not JSON: {exc}", file=sys.stderr)
            return 1
    with connect() as client:
        if args.stream:
            for answer in client.stream(args.topic, payload):
                print(json.dumps(answer))
        else:
            print(json.dumps(client.rpc(args.topic, payload)))


def _dmesg(args):
    with connect() as client:
        for line in client.rpc("log.dmesg", {"clear": args.clear})["lines"]:
            print(line)


def _shutdown(args):
    with connect() as client:
        client.rpc("instance.shutdown")
