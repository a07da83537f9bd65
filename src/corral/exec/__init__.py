"""Execution: the controller's exec service and the node agents that run tasks.

The exec service turns a job's start request (`StartRequest`: what its R and jobspec say,
not the job manager's record) into per-node start requests, sends them to the node agents
over a message channel, and reports ``start``, ``finish`` and ``release`` back to the job
manager by job id (`ExecAnswers`).  On one machine the agents live in the controller's
process and the channel is a loop callback; the messages are the same ones a remote agent
would get.
"""

from .requests import ExecAnswers, StartRequest

__all__ = ["ExecAnswers", "StartRequest"]
