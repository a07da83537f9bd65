"""The broker: services by topic, the local socket, the Handle plugins get, roles.

Everything that crosses a process boundary goes through here as request/response messages, so
that remote node agents later are a transport change, not a rewrite.
"""

from .message import Message, RequestError
from .roles import ROLE_OWNER, ROLE_USER
from .server import Broker

__all__ = ["Broker", "Message", "RequestError", "ROLE_OWNER", "ROLE_USER"]
