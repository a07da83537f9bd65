"""``prep/script``: the builtin PrEp plugin that runs the site's prolog and epilog scripts.

As Slurm's plugin of that name. On a node, ``[prep] prolog`` / ``epilog`` entries are globbed
in configuration order, each entry's matches in reverse sorted order; an entry that matches
nothing fails the hook before any script runs; the scripts then run one after the other and
the first one that fails stops the rest, its wait status being the hook's result. On the
controller, ``prolog-slurmctld`` / ``epilog-slurmctld`` scripts are not globbed; they all start
at once, each in a thread of its own, and each reports through the callbacks when it ends: the
hook promises one asynchronous unit per script (Slurm promises one per plugin and takes the
first script to finish for all of them; see docs/compatibility.md). ``init`` on the controller
refuses scripts that are not executable, so a typo stops the controller at start.

It is written against the public ``corral.prep`` API like any other plugin; the host builds it
with the settings and the roles of the process instead of importing it.
"""

import errno
import glob
import logging
import os
import threading

from ..waitstatus import exit_and_signal
from . import ERROR, SUCCESS, VERSION, CallType
from .environment import controller_env, node_env
from .run import RunningScripts, run_script

log = logging.getLogger("corral.prep.script")


class ScriptPlugin:
    plugin_name = "Script PrEp plugin"
    plugin_type = "prep/script"
    plugin_version = VERSION

    def __init__(self, settings, controller: bool, node: bool):
        self._settings = settings
        self._controller = controller
        self._node = node
        self._have_prolog_slurmctld = False
        self._have_epilog_slurmctld = False
        self._callbacks = None
        self._controller_scripts = RunningScripts()
        self._node_scripts = RunningScripts()

    # --- the PrEp plugin functions ----------------------------------------------------------

    def init(self):
        if self._node:
            self._warn_of_empty_patterns()
        if not self._controller:
            return SUCCESS
        problems = []
        for kind, paths in (("PrologSlurmctld", self._settings.prolog_slurmctld),
                            ("EpilogSlurmctld", self._settings.epilog_slurmctld)):
            for path in paths:
                problem = _not_executable(path)
                if problem is not None:
                    problems.append(f"Invalid {kind}(`{path}`): {problem}")
        if problems:
            raise RuntimeError("; ".join(problems))
        self._have_prolog_slurmctld = bool(self._settings.prolog_slurmctld)
        self._have_epilog_slurmctld = bool(self._settings.epilog_slurmctld)
        return SUCCESS

    def _warn_of_empty_patterns(self):
        """A node script pattern is globbed at each job, so one that matches nothing, or a
        file that cannot be run, is not an error at start (the file may come or be fixed
        later), but every hook fails until it does."""
        for name, patterns in (("prolog", self._settings.prolog),
                               ("epilog", self._settings.epilog)):
            for pattern in patterns:
                matches = glob.glob(pattern)
                if not matches:
                    log.warning("[prep] %s: '%s' matches no file: every node %s fails until "
                                "it does", name, pattern, name)
                for path in matches:
                    problem = _not_executable(path)
                    if problem is not None:
                        log.warning("[prep] %s: %s: %s: every node %s fails until it can "
                                    "be run", name, path, problem, name)

    def fini(self):
        self._controller_scripts.kill_all()
        self._node_scripts.kill_all()

    def prep_p_register_callbacks(self, callbacks):
        # Controller scripts cannot report without callbacks: run none then.
        self._callbacks = callbacks
        if callbacks is None:
            self._have_prolog_slurmctld = self._have_epilog_slurmctld = False

    def prep_p_required(self, call_type):
        if call_type == CallType.PROLOG_SLURMCTLD:
            return self._controller and self._have_prolog_slurmctld
        if call_type == CallType.EPILOG_SLURMCTLD:
            return self._controller and self._have_epilog_slurmctld
        if call_type in (CallType.PROLOG, CallType.EPILOG):
            return self._node
        return False

    def prep_p_prolog(self, job_env, cred):
        return self._run_node_scripts(job_env, cred, epilog=False)

    def prep_p_epilog(self, job_env, cred):
        return self._run_node_scripts(job_env, cred, epilog=True)

    def prep_p_prolog_slurmctld(self, job):
        if not self._have_prolog_slurmctld:
            return SUCCESS
        return SUCCESS, self._start_controller_scripts(job, epilog=False)

    def prep_p_epilog_slurmctld(self, job):
        if not self._have_epilog_slurmctld:
            return SUCCESS
        return SUCCESS, self._start_controller_scripts(job, epilog=True)

    # --- beyond the PrEp API, for the host ------------------------------------------------

    def flush_job(self, job_id: int) -> None:
        """Kill the job's running controller scripts (the job was cancelled): each reports
        its death by SIGKILL, which is not a failure."""
        self._controller_scripts.kill_job(job_id)

    def flush_node_job(self, job_id: int) -> None:
        """Kill the job's running node scripts (the job ended during its prolog)."""
        self._node_scripts.kill_job(job_id)

    # --- node scripts ---------------------------------------------------------------------

    def _run_node_scripts(self, job_env, cred, epilog: bool):
        settings = self._settings
        name = "epilog" if epilog else "prolog"
        patterns = settings.epilog if epilog else settings.prolog
        if not patterns:
            return SUCCESS
        paths = []
        for pattern in patterns:
            matches = glob.glob(pattern)
            if not matches:
                log.error("JobId=%d %s: Unable to create list of paths [%s]", job_env.job_id,
                          name, pattern)
                return ERROR
            paths.extend(sorted(matches, reverse=True))
        env = node_env(job_env, cred, epilog, settings.cluster_name, settings.conf_path)
        timeout = settings.epilog_timeout if epilog else settings.prolog_timeout
        for path in paths:
            result = run_script(path, env, timeout, name, job_env.job_id, self._node_scripts)
            if result.status:
                _log_failure(job_env.job_id, name, result)
                return result.status
            log.debug("JobId=%d %s success rc:0 output:%s", job_env.job_id, name, result.output)
        return SUCCESS

    # --- controller scripts ---------------------------------------------------------------

    def _start_controller_scripts(self, job, epilog: bool) -> int:
        settings = self._settings
        paths = settings.epilog_slurmctld if epilog else settings.prolog_slurmctld
        env = controller_env(job, epilog, settings.cluster_name)
        for path in paths:
            threading.Thread(target=self._run_controller_script, args=(path, env, job.job_id,
                             epilog), name=f"prep-script-{job.job_id}", daemon=True).start()
        return len(paths)

    def _run_controller_script(self, path: str, env: dict, job_id: int, epilog: bool) -> None:
        kind = "EpilogSlurmctld" if epilog else "PrologSlurmctld"
        timeout = self._settings.epilog_timeout if epilog else self._settings.prolog_timeout
        report = self._callbacks.epilog_slurmctld if epilog else \
            self._callbacks.prolog_slurmctld
        try:
            result = run_script(path, env, timeout, kind, job_id, self._controller_scripts)
        except Exception as exc:
            # The job waits for this report: it must come even when running the script broke.
            log.error("JobId=%d %s %s: %s", job_id, kind, path, exc, exc_info=exc)
            report(ERROR, job_id, False)
            return
        if result.status:
            log.error("JobId=%d %s exit status %d:%d", job_id, kind,
                      *exit_and_signal(result.status))
        log.debug("JobId=%d %s %s output:%s", job_id, kind, path, result.output)
        report(result.status, job_id, result.timed_out)


def _not_executable(path: str) -> str | None:
    """Why the controller could not run ``path``, or None."""
    if not os.path.isabs(path):
        return "not an absolute path"
    if os.access(path, os.X_OK):
        return None
    return os.strerror(errno.EACCES if os.path.exists(path) else errno.ENOENT)


def _log_failure(job_id: int, name: str, result) -> None:
    status = result.status
    if os.WIFEXITED(status):
        log.error("JobId=%d %s failed: rc:%d output:%s", job_id, name, os.WEXITSTATUS(status),
                  result.output)
    elif os.WIFSIGNALED(status):
        log.error("JobId=%d %s killed by signal %d output:%s", job_id, name,
                  os.WTERMSIG(status), result.output)
    else:
        log.error("JobId=%d %s didn't run: status:%d reason:%s", job_id, name, status,
                  result.output)
