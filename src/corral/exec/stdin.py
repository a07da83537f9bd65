"""Standard input for task 0 of a job, as ``flux run`` and ``srun`` give it.

Only jobs whose jobspec asks for it (``attributes.system.shell.options.input.stdin.type =
"service"``, which ``corral run`` sets when its own stdin is not /dev/null) get a pipe; every
other task keeps /dev/null, and no job pays for the stream unless it has one.  The command
sends chunks (``job-exec.stdin``: ``{id, data (base64), eof}``), one request at a time; the
controller hands each to the agent of the rank that runs task 0 and answers once the agent
says the chunk is in the pipe, so a task that reads slowly slows the sender instead of filling
memory.  A task that closed its stdin or exited takes nothing more: later chunks are
acknowledged and dropped, as a pipe's writer would see them vanish.

This module is the agent's side: `TaskInput`, the write end of task 0's pipe.
"""

import base64
import errno
import os

#: The jobspec value that asks for the stream.
STDIN_SERVICE = "service"


def wants_stdin(system: dict) -> bool:
    """Does the job (its ``attributes.system``) read stdin from the ``corral run`` that
    submitted it?"""
    stdin = system.get("shell", {}).get("options", {}).get("input", {}).get("stdin") or {}
    return stdin.get("type") == STDIN_SERVICE


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode()


def decode(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


class TaskInput:
    """The write end of task 0's stdin on the agent's event loop.  ``acknowledge()`` is
    called once per chunk given to `feed`, when it is written (or dropped)."""

    def __init__(self, loop, write_end: int, acknowledge):
        self.loop = loop
        self.fd = write_end
        os.set_blocking(write_end, False)
        self.acknowledge = acknowledge
        self.chunks: list[list] = []  # [memoryview left to write, eof after it]
        self.writing = False

    def feed(self, data: bytes, eof: bool):
        self.chunks.append([memoryview(data), eof])
        self._write()

    def _write(self):
        while self.chunks:
            chunk = self.chunks[0]
            view, eof = chunk
            if self.fd is not None and view:
                try:
                    written = os.write(self.fd, view)
                except BlockingIOError:
                    if not self.writing:
                        self.writing = True
                        self.loop.add_writer(self.fd, self._write)
                    return
                except OSError as exc:  # EPIPE: the task no longer reads
                    if exc.errno not in (errno.EPIPE, errno.EBADF):
                        raise
                    self.close()
                    continue
                chunk[0] = view[written:]
                if chunk[0]:
                    continue
            self.chunks.pop(0)
            if eof:
                self.close()
            self.acknowledge()
        if self.writing and self.fd is not None:
            self.writing = False
            self.loop.remove_writer(self.fd)

    def abandon(self):
        """The job is over here: close, and acknowledge what was never written."""
        self.close()
        while self.chunks:
            self.chunks.pop(0)
            self.acknowledge()

    def close(self):
        """No more input (end of file, the task went away, or its job ended)."""
        if self.fd is None:
            return
        if self.writing:
            self.writing = False
            self.loop.remove_writer(self.fd)
        os.close(self.fd)
        self.fd = None
