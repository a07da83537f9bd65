"""What the machine did during a real-execution run, read from ``/proc``: how busy all its
CPUs were, the CPU the tasks themselves took, and how often the controller and the node
agent were last seen on the same CPU.

The rate of `realexec.py` swings by half from run to run on this 2-core machine.  These
figures tell why: a run during which other work keeps the CPUs busy is bound by CPU (the
tasks' own exec is then the largest share), and a run during which the kernel keeps the
controller and the agent on one CPU (they wake each other for every frame) leaves the other
CPU to the tasks and is slower than one where they are apart.
"""

import os
import threading

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_times() -> list[int]:
    with open("/proc/stat") as file:
        return [int(value) for value in file.readline().split()[1:]]


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as file:
        return file.read().rsplit(")", 1)[1].split()


def children_cpu_seconds(pid: int) -> float:
    """CPU time of the reaped children of ``pid`` (the node agent's tasks)."""
    fields = _stat_fields(pid)
    return (int(fields[13]) + int(fields[14])) / _TICK


def last_cpu(pid: int) -> int:
    """The CPU process ``pid``'s main thread last ran on."""
    return int(_stat_fields(pid)[36])


class Placement:
    """Observe the machine from `start` to `stop`: ``controller`` and ``agent`` are pids."""

    def __init__(self, controller: int, agent: int, interval: float = 0.01):
        self.controller = controller
        self.agent = agent
        self.interval = interval
        self.samples = 0
        self.together = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._times = self._tasks = None

    def start(self):
        self._times = _cpu_times()
        self._tasks = children_cpu_seconds(self.agent)
        self._thread.start()

    def _sample(self):
        while not self._stopped.wait(self.interval):
            try:
                together = last_cpu(self.controller) == last_cpu(self.agent)
            except OSError:
                return
            self.samples += 1
            self.together += together

    def stop(self) -> dict:
        """``busy`` (CPUs, e.g. 1.4 of 2), ``tasks_cpu`` (seconds) and ``together`` (the
        share of samples with both processes last on one CPU, None without samples)."""
        self._stopped.set()
        self._thread.join()
        # user, nice, system, idle, iowait, irq, softirq, steal (guest time is in user's)
        times = [after - before for before, after in zip(self._times[:8], _cpu_times()[:8],
                                                          strict=True)]
        idle = times[3] + times[4]
        cpus = os.cpu_count() or 1
        return {
            "busy": (sum(times) - idle) / sum(times) * cpus if sum(times) else 0.0,
            "tasks_cpu": children_cpu_seconds(self.agent) - self._tasks,
            "together": self.together / self.samples if self.samples else None,
        }
