"""API tokens: what a user shows ``corral web`` over TCP instead of a Unix peer credential.

``corral token create`` asks the instance over its local socket, where the peer's uid is
known, so a token always belongs to the user who made it (the owner may make one for any
uid, as it may act for any user).  The token is shown once; the store keeps only its
SHA-256 (a token is 256 random bits, so a fast hash is as good as a slow one) with its uid,
name and creation time, under the ``tokens`` key.  ``token.check`` (owner only: the web
front end) turns a presented token into its uid; nothing else can read the table.
"""

import errno
import hashlib
import secrets
import time

from .broker.message import RequestError
from .broker.roles import ROLE_OWNER, ROLE_USER

_KEY = "tokens"
PREFIX = "corral_"
_MAX_NAME = 100


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    """The token table of one instance and its services."""

    def __init__(self, store):
        self.store = store
        self.by_digest: dict[str, dict] = store.kv_get(_KEY, {}) or {}

    def register_services(self, broker):
        anyone = ROLE_OWNER | ROLE_USER
        broker.register("token.create", self._serve_create, anyone)
        broker.register("token.list", self._serve_list, anyone)
        broker.register("token.revoke", self._serve_revoke, anyone)
        broker.register("token.check", self._serve_check, ROLE_OWNER)

    def _save(self):
        self.store.kv_set(_KEY, self.by_digest)

    def _serve_create(self, msg):
        request = msg.payload_object()
        name = request.get("name", "")
        if not isinstance(name, str) or len(name) > _MAX_NAME:
            raise RequestError(errno.EINVAL, f"a token name is a string of at most {_MAX_NAME} "
                                             "characters")
        userid = request.get("userid", msg.userid)
        if type(userid) is not int or userid < 0:
            raise RequestError(errno.EPROTO, "userid must be an integer uid")
        if userid != msg.userid and not msg.rolemask & ROLE_OWNER:
            raise RequestError(errno.EPERM, "only the instance owner may make tokens for "
                                            "another user")
        token = PREFIX + secrets.token_urlsafe(32)
        token_id = secrets.token_hex(4)
        self.by_digest[digest(token)] = {"id": token_id, "userid": userid, "name": name,
                                         "created": time.time()}
        self._save()
        # Answered once stored: a token the instance would forget at a restart is no token.
        self.store.after_commit(lambda: msg.respond({"token": token, "id": token_id,
                                                     "userid": userid}))

    def _entries(self, msg, everyone: bool):
        """``(digest, entry)`` of the caller's tokens, or of everyone's."""
        return [(key, entry) for key, entry in self.by_digest.items()
                if everyone or entry["userid"] == msg.userid]

    def _serve_list(self, msg):
        everyone = bool(msg.rolemask & ROLE_OWNER and msg.payload_object().get("all"))
        entries = [entry for _key, entry in self._entries(msg, everyone)]
        msg.respond({"tokens": sorted(entries, key=lambda entry: entry["created"])})

    def _serve_revoke(self, msg):
        token_id = msg.payload_object().get("id")
        found = [key for key, entry in self.by_digest.items() if entry["id"] == token_id]
        if not found:
            raise RequestError(errno.ENOENT, f"no token with id {token_id}")
        if found[0] not in dict(self._entries(msg, bool(msg.rolemask & ROLE_OWNER))):
            raise RequestError(errno.EPERM, f"token {token_id} belongs to another user")
        del self.by_digest[found[0]]
        self._save()
        self.store.after_commit(lambda: msg.respond({}))

    def _serve_check(self, msg):
        token = msg.payload_object().get("token")
        entry = self.by_digest.get(digest(token)) if isinstance(token, str) else None
        if entry is None:
            raise RequestError(errno.EPERM, "unknown or revoked token")
        msg.respond({"userid": entry["userid"]})
