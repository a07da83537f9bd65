"""corral: a workload manager whose job lifecycle is open to jobtap and PrEp plugins."""

__version__ = "0.1.0"
