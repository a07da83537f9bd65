"""Signal names as users type them, for ``corral job kill -s``, ``scancel -s`` and
``sbatch --signal``: a number, or a name with or without ``SIG`` in any case (``TERM``,
``SIGUSR1``, ``usr1``), as ``kill(1)`` takes them."""

import signal


def number(text: str) -> int:
    """The signal ``text`` names; `ValueError` saying so if it names none."""
    name = text.upper()
    if name.isdecimal() and 0 < int(name) < signal.NSIG:
        return int(name)
    try:
        return int(signal.Signals[name if name.startswith("SIG") else "SIG" + name])
    except KeyError:
        raise ValueError(f"unknown signal '{text}'") from None
