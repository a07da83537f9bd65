"""JSON Web Tokens a site signs itself (HS256 with a shared key), as Slurm's ``auth/jwt``.

A site that already gives its users Slurm tokens (``scontrol token``) or signs them from its
identity provider can give ``corral web --jwt-key FILE`` the same key: a token is accepted
when its signature is the key's HMAC-SHA256, it has not expired (``exp``, required), and its
user is named by Slurm's claim ``sun`` (a user name) or by ``uid``.  Only HS256 is accepted:
a token that says ``alg: none`` or any other algorithm is refused, whatever it claims.
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import pwd
import stat
import time


class JWTError(Exception):
    """A token is refused; ``str()`` says why."""


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def read_key(path: str) -> bytes:
    """The key in ``path``, which must be readable by its owner only (it signs as anyone)."""
    try:
        with open(path, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            key = file.read()
    except OSError as exc:
        raise ValueError(f"--jwt-key {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(f"--jwt-key {path}: others may read it (mode {mode & 0o777:o}; "
                         "make it 0600)")
    if len(key) < 32:
        raise ValueError(f"--jwt-key {path}: a key of {len(key)} bytes is too short (at least "
                         "32)")
    return key


def _decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise JWTError("malformed token") from None


def user_of(token: str, key: bytes, now: float | None = None) -> int:
    """The uid a valid token names, or `JWTError`."""
    header_part, payload_part, signature_part = token.split(".")
    try:
        header = json.loads(_decode(header_part))
        claims = json.loads(_decode(payload_part))
    except (ValueError, UnicodeDecodeError):
        raise JWTError("malformed token") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise JWTError("only HS256 tokens are accepted")
    expected = hmac.new(key, f"{header_part}.{payload_part}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _decode(signature_part)):
        raise JWTError("the token's signature does not match the site's key")
    if not isinstance(claims, dict):
        raise JWTError("malformed token")
    expires = claims.get("exp")
    if type(expires) not in (int, float):
        raise JWTError("the token has no expiry ('exp')")
    if expires <= (time.time() if now is None else now):
        raise JWTError("the token has expired")
    if isinstance(claims.get("sun"), str):
        try:
            return pwd.getpwnam(claims["sun"]).pw_uid
        except KeyError:
            raise JWTError(f"the token's user '{claims['sun']}' is unknown here") from None
    if type(claims.get("uid")) is int and claims["uid"] >= 0:
        return claims["uid"]
    raise JWTError("the token names no user ('sun' or 'uid')")
