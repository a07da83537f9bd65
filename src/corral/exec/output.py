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

_CHUNK = 65536
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC


class JobOutput:
    def __init__(self, loop, paths: dict[str, str], truncate: bool, owner=None, on_lost=None):
        """``paths`` maps the streams kept with the job (``stdout``, ``stderr``, or one of
        them) to their files; ``owner`` is the ``(uid, gid)`` the files are given, None to
        keep the agent's."""
        self.loop = loop
        self.on_lost = on_lost
        self.lost_bytes = 0
        self.paths = paths
        self.owner = owner
        self.files: dict[str, int] = {}  # path -> fd, opened on first data
        self.pipes: dict[int, str] = {}  # read end -> stream, until EOF
        if truncate:
            # A job run again (requeued) starts with empty output, without creating files.
            for path in set(self.paths.values()):
                try:
                    os.truncate(path, 0)
                except FileNotFoundError:
                    pass

    def task_pipes(self) -> dict[str, int]:
        """Write ends for one task's kept streams, by stream; the caller closes them once the
        task has them."""
        ends = {}
        for stream in self.paths:
            try:
                read_end, write_end = os.pipe2(os.O_CLOEXEC)
            except OSError:
                for end in ends.values():  # no file descriptor left: nothing half-made stays
                    os.close(end)
                raise
            os.set_blocking(read_end, False)
            self.pipes[read_end] = stream
            self.loop.add_reader(read_end, self._readable, read_end)
            ends[stream] = write_end
        return ends

    def write(self, stream: str, data: bytes):
        path = self.paths[stream]
        view = memoryview(data)
        try:
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
                self._closed(read_end)
                return
            self.write(stream, data)
            if once:
                return

    def _closed(self, read_end: int):
        self.loop.remove_reader(read_end)
        os.close(read_end)
        del self.pipes[read_end]
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
            self.loop.remove_reader(read_end)
            os.close(read_end)
        self.pipes.clear()
        for fd in self.files.values():
            os.close(fd)
        self.files.clear()
