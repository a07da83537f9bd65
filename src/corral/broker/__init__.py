"""The broker: services by topic, the local socket, the Handle plugins get, roles.

Everything that crosses a process boundary goes through here as request/response messages, so
that remote node agents later are a transport change, not a rewrite.  The package itself
imports nothing, so that the client (which needs only `wire`) starts quickly.
"""
