"""A job's output on one node: pipes from its tasks, files written only when there is some.

Creating two files for every job on the event loop cost more than starting its tasks (a
file creation is a disk metadata update, 20 µs to 0.7 ms here), and most short jobs print
nothing.  So tasks write into pipes, the agent reads them on its event loop and appends to
the job's output files, creating a file on its first byte.  What a task wrote before it exited
is read at once when it exits (`drain`), so the job's output is complete when the job
finishes; a background process that keeps the pipe open is read until it closes it.

Output that cannot be written (a full disk) is counted, never silently dropped: the first
loss is reported through ``on_lost(note)`` so that the job's eventlog says what was lost.

The files are the job's: mode 0600 whatever the umask, and owned by the job's user when that
is not the agent's (the instance serves them through ``corral job attach``).
"""

import errno
import os

from . import watch

_CHUNK = 65536
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC


class JobOutput:
    def __init__(self, loop, paths: dict[str, str], truncate: bool, owner=None, on_lost=None,
                 user_files: dict[str, int] | None = None, label: bool = False):
        """``paths`` maps the streams kept with the job (``stdout``, ``stderr``, or one of
        them) to their files; ``owner`` is the ``(uid, gid)`` the files are given, None to
        keep the agent's.  With ``label`` (``--label-io``), each line is prefixed with its
        task's rank, and the streams the user named files for come through pipes as well:
        ``user_files`` maps them to those files, already opened (a copy of each descriptor
        is kept)."""
        self.watch = watch.of(loop)
        self.on_lost = on_lost
        self.lost_bytes = 0
        self.paths = paths
        self.owner = owner
        self.label = label
        self.files: dict[str, int] = {}  # path -> fd, opened on first data
        self.user_files: dict[str, int] = {}
        copies: dict[int, int] = {}
        for stream, fd in (user_files or {}).items():
            if fd not in copies:
                copies[fd] = os.dup(fd)
            self.user_files[stream] = copies[fd]
        self.pipes: dict[int, str] = {}  # read end -> stream, until EOF
        self.prefixes: dict[int, bytes] = {}  # read end -> rank label (``--label-io``)
        self.partial: dict[int, bytes] = {}  # read end -> a labelled line not ended yet
        if truncate:
            # A job run again (requeued) starts with empty output, without creating files.
            for path in set(self.paths.values()):
                try:
                    os.truncate(path, 0)
                except FileNotFoundError:
                    pass

    def streams(self) -> tuple[str, ...]:
        """The streams that come through pipes."""
        return tuple(self.paths) + tuple(s for s in self.user_files if s not in self.paths)

    def task_pipes(self, rank: int) -> dict[str, int]:
        """Write ends for the streams of task ``rank`` that come through pipes, by stream;
        the caller closes them once the task has them."""
        ends = {}
        for stream in self.streams():
            try:
                read_end, write_end = os.pipe2(os.O_CLOEXEC)
            except OSError:
                for end in ends.values():  # no file descriptor left: nothing half-made stays
                    os.close(end)
                raise
            os.set_blocking(read_end, False)
            self.pipes[read_end] = stream
            if self.label:
                self.prefixes[read_end] = f"{rank}: ".encode()
            self.watch.add(read_end, self._readable, read_end)
            ends[stream] = write_end
        return ends

    def write(self, stream: str, data: bytes):
        fd = self.user_files.get(stream)
        path = self.paths.get(stream, "the user's file")
        view = memoryview(data)
        try:
            if fd is None:
                fd = self.files.get(path)
            if fd is None:
                fd = self.files[path] = os.open(path, _FILE_FLAGS, 0o600)
                if self.owner is not None:
                    os.fchown(fd, *self.owner)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except OSError as exc:
            self._lost(stream, path, len(view), exc)

    def _lost(self, stream: str, path: str, size: int, exc: OSError):
        first = self.lost_bytes == 0
        self.lost_bytes += size
        if first and self.on_lost is not None:
            self.on_lost(f"{stream} could not be written to {path}: "
                         f"{exc.strerror or exc}; output from then on is lost")

    def _readable(self, read_end: int):
        self._read(read_end, once=True)

    def _read(self, read_end: int, once: bool):
        stream = self.pipes[read_end]
        while True:
            try:
                data = os.read(read_end, _CHUNK)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno != errno.EINTR:
                    data = b""
                else:
                    continue
            if not data:
                rest = self.partial.pop(read_end, None)
                if rest:
                    self.write(stream, self.prefixes[read_end] + rest)
                self._closed(read_end)
                return
            prefix = self.prefixes.get(read_end)
            self.write(stream, data if prefix is None else self._labelled(read_end, prefix,
                                                                           data))
            if once:
                return

    def _labelled(self, read_end: int, prefix: bytes, data: bytes) -> bytes:
        """``data`` with each line that ends in it prefixed; a line not ended yet waits for
        its end (or the pipe's)."""
        data = self.partial.pop(read_end, b"") + data
        lines = data.split(b"\n")
        if lines[-1]:
            self.partial[read_end] = lines[-1]
        return b"".join(prefix + line + b"\n" for line in lines[:-1])

    def _closed(self, read_end: int):
        self.watch.remove(read_end)
        os.close(read_end)
        del self.pipes[read_end]
        self.prefixes.pop(read_end, None)
        if not self.pipes:
            self.close()

    def drain(self):
        """Read everything the pipes hold now (a task has exited)."""
        for read_end in list(self.pipes):
            if read_end in self.pipes:
                self._read(read_end, once=False)

    def close(self):
        """Stop reading and close the files (the job is over here, or the agent stops)."""
        for read_end in list(self.pipes):
            self.watch.remove(read_end)
            os.close(read_end)
        self.pipes.clear()
        for fd in {*self.files.values(), *self.user_files.values()}:
            os.close(fd)
        self.files.clear()
        self.user_files.clear()
