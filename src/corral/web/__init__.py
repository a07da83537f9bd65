"""``corral web``: the instance's JSON API over HTTP, its OpenAPI document, and a dashboard.

It runs as a process of its own, a client of the instance like slurmrestd is of slurmctld:
HTTP parsing, JSON for large listings and slow browsers cost the controller's event loop
nothing, and a web server that fails takes no job down.  It authenticates each request
itself (`auth`) and forwards it with the user's uid (`upstream`), so the instance applies
the same roles as on its local socket.  Its modules need aiohttp (``corral[web]``).
"""
