"""The task's program is looked up without starting a process for each place it is not."""

import asyncio
import errno
import os

from corral.exec import launch


def test_what_cannot_be_executed_is_known_without_a_spawn(tmp_path):
    program = tmp_path / "prog"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o644)
    plain = tmp_path / "plain"
    plain.write_text("")
    assert launch._cannot_execute(os.fsencode(tmp_path / "absent")) == errno.ENOENT
    assert launch._cannot_execute(os.fsencode(plain / "below")) == errno.ENOTDIR
    assert launch._cannot_execute(os.fsencode(program)) == errno.EACCES  # root's too
    program.chmod(0o755)
    assert launch._cannot_execute(os.fsencode(program)) == 0


class CountingLibc:
    """The C library, counting the calls of ``posix_spawn``."""

    def __init__(self, libc):
        self.libc = libc
        self.spawns = 0

    def __getattr__(self, name):
        return getattr(self.libc, name)

    def posix_spawn(self, *args):
        self.spawns += 1
        return self.libc.posix_spawn(*args)


def test_a_program_late_in_path_is_spawned_once(tmp_path, monkeypatch):
    """Seven directories without it come first; only the eighth's program is spawned."""
    libc = CountingLibc(launch._libc)
    monkeypatch.setattr(launch, "_libc", libc)
    directories = [str(tmp_path / f"d{n}") for n in range(8)]
    for directory in directories:
        os.mkdir(directory)
    os.symlink("/bin/true", os.path.join(directories[-1], "found"))
    statuses = []
    loop = asyncio.new_event_loop()
    cwd = os.open(str(tmp_path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        launch.spawn(loop, 0, ["found"], {"PATH": ":".join(directories)}, cwd, None, 1, 2,
                     lambda task: (statuses.append(task.status), loop.stop()))
        loop.run_forever()
    finally:
        os.close(cwd)
        loop.close()
    assert statuses == [0]
    assert libc.spawns == 1
