"""``corral token create|list|revoke``: the tokens ``corral web`` accepts over TCP.

A token belongs to the user who makes it (the instance knows who asks on its local socket);
it is printed once and never again: the instance keeps only its hash (`corral.tokens`).
"""

import time

from ..client import connect
from ..slurm.records import user_id


def register(subparsers):
    parser = subparsers.add_parser("token", help="make, list and revoke web API tokens")
    commands = parser.add_subparsers(dest="token_command", metavar="SUBCOMMAND", required=True)
    create = commands.add_parser("create", help="make a token and print it (once)")
    create.add_argument("--name", default="", help="what the token is for (shown by list)")
    create.add_argument("--user", help="the user it acts as (the instance owner only)")
    create.set_defaults(func=_create)
    listing = commands.add_parser("list", help="your tokens (never their text)")
    listing.add_argument("--all", action="store_true", help="every user's (owner only)")
    listing.set_defaults(func=_list)
    revoke = commands.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id")
    revoke.set_defaults(func=_revoke)


def _create(args):
    payload = {"name": args.name}
    if args.user is not None:
        try:
            payload["userid"] = user_id(args.user)
        except ValueError as exc:
            raise SystemExit(f"corral token: {exc}") from None
    with connect() as client:
        print(client.rpc("token.create", payload)["token"])


def _list(args):
    with connect() as client:
        tokens = client.rpc("token.list", {"all": args.all})["tokens"]
    print(f"{'ID':<8} {'UID':>6} {'CREATED':<19}  NAME")
    for token in tokens:
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(token["created"]))
        print(f"{token['id']:<8} {token['userid']:>6} {created:<19}  {token['name']}")


def _revoke(args):
    with connect() as client:
        client.rpc("token.revoke", {"id": args.id})
