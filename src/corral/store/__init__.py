"""The instance's durable state: jobs, their eventlogs, and a few instance keys."""

from .sqlite import Store, StoreError

__all__ = ["Store", "StoreError"]
