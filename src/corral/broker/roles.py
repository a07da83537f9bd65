"""Roles a request can carry, with Flux's numeric values (FLUX_ROLE_OWNER, FLUX_ROLE_USER).

The owner is the uid that started the instance, or root; everyone else is a user.
"""

ROLE_OWNER = 1
ROLE_USER = 2


def rolemask_for(userid: int, owner_uid: int) -> int:
    """The roles a connection from ``userid`` holds in an instance owned by ``owner_uid``."""
    if userid == owner_uid or userid == 0:
        return ROLE_OWNER | ROLE_USER
    return ROLE_USER
