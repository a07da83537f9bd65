"""Who sends an HTTP request to ``corral web``, as the instance's local socket would say.

On the Unix socket listener it is the peer's uid (``SO_PEERCRED``), exactly as the instance
decides it.  On TCP it is the owner of the ``Authorization: Bearer TOKEN`` presented, a token
that user made with ``corral token create``; the instance checks it (`corral.tokens`), so a
revoked token stops working at once.  Nothing else (a header naming a user, a cookie) counts.
"""

import errno
import socket
import struct

from ..client import RPCError

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
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("this API needs 'Authorization: Bearer TOKEN' (make one with "
                        "'corral token create')")
    try:
        answer = await upstream.rpc("token.check", {"token": token.strip()})
    except RPCError as exc:
        if exc.errno == errno.EPERM:
            raise AuthError("unknown or revoked token") from None
        raise
    return answer["userid"]
