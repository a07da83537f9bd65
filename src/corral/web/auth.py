"""Who sends an HTTP request to ``corral web``, as the instance's local socket would say.

On the Unix socket listener it is the peer's uid (``SO_PEERCRED``), exactly as the instance
decides it.  On TCP it is the owner of the ``Authorization: Bearer TOKEN`` presented, a token
that user made with ``corral token create``; the instance checks it (`corral.tokens`), so a
revoked token stops working at once.  With ``--jwt-key``, a JSON Web Token the site signed
with that key names its user instead (`jwt`).  Nothing else (a header naming a user, a
cookie) counts.
"""

import errno
import socket
import struct

from ..client import RPCError
from . import jwt

_PEERCRED = struct.Struct("3i")


class AuthError(Exception):
    """The request is not authenticated; ``str()`` says why."""


async def requester(request, upstream) -> int:
    """The uid the request is from, or `AuthError`."""
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None and sock.family == socket.AF_UNIX:
        _pid, uid, _gid = _PEERCRED.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
        return uid
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("this API needs 'Authorization: Bearer TOKEN' (make one with "
                        "'corral token create')")
    jwt_key = request.app["jwt_key"]
    if jwt_key is not None and jwt.looks_like_jwt(token):
        try:
            return jwt.user_of(token, jwt_key)
        except jwt.JWTError as exc:
            raise AuthError(str(exc)) from None
    try:
        answer = await upstream.rpc("token.check", {"token": token})
    except RPCError as exc:
        if exc.errno == errno.EPERM:
            raise AuthError("unknown or revoked token") from None
        raise
    return answer["userid"]
