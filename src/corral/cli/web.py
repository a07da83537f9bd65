"""``corral web``: serve the instance's JSON API and dashboard over HTTP (`corral.web`)."""

import asyncio
import os
import sys

from ..config import host_port


def register(subparsers):
    parser = subparsers.add_parser(
        "web", help="serve the JSON API and the dashboard over HTTP",
        description="Serve the instance at CORRAL_URI over HTTP: the JSON API (OpenAPI "
                    "document at /api/v1/openapi.json) and the dashboard at /. Over TCP a "
                    "request needs a token from 'corral token create'; on the Unix socket "
                    "the peer's uid is used. Run it as the instance owner.")
    parser.add_argument("--listen", metavar="HOST:PORT",
                        help="TCP address to serve (e.g. 127.0.0.1:8080; port 0: any)")
    parser.add_argument("--unix", metavar="PATH", help="Unix socket to serve")
    parser.add_argument("--jwt-key", metavar="FILE",
                        help="also accept HS256 JSON Web Tokens signed with the key in FILE "
                             "(mode 0600), as Slurm's auth/jwt")
    parser.set_defaults(func=main)


def main(args) -> int:
    try:
        from ..web import jwt, server
    except ImportError as exc:
        print(f"corral web: needs the web extra (pip install 'corral[web]'): {exc}",
              file=sys.stderr)
        return 1
    uri = os.environ.get("CORRAL_URI")
    if not uri:
        print("corral web: CORRAL_URI is not set", file=sys.stderr)
        return 1
    if args.listen is None and args.unix is None:
        print("corral web: give --listen HOST:PORT, --unix PATH or both", file=sys.stderr)
        return 1
    try:
        listen = host_port(args.listen) if args.listen is not None else None
    except ValueError as exc:
        print(f"corral web: --listen: {exc}", file=sys.stderr)
        return 1
    try:
        jwt_key = jwt.read_key(args.jwt_key) if args.jwt_key is not None else None
    except ValueError as exc:
        print(f"corral web: {exc}", file=sys.stderr)
        return 1
    try:
        asyncio.run(server.serve(uri, listen, args.unix,
                                 lambda urls: print(*urls, sep="\n", flush=True), jwt_key))
    except server.WebError as exc:
        print(f"corral web: {exc}", file=sys.stderr)
        return 1
    return 0
