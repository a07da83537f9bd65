"""PrEp on a node: the node hooks a ``corral agent`` runs, from its own configuration.

An agent reads the ``[prep]`` section of the file given by ``corral agent --config`` at start,
as each slurmd reads Prolog, Epilog and PrEpPlugins from its own slurm.conf; it is not sent by
the controller, so plugins and scripts are found and loaded on the node that runs them, and a
plugin that cannot load stops the agent before it registers rather than failing jobs later.
The file is meant to be the controller's own (a shared file system, or the same copy on
every node, as Slurm expects of slurm.conf).  Without ``--config`` the agent has no node
hooks: every prolog and epilog succeeds there without running anything.
"""

from .. import config as config_module
from ..prep import config as prep_config
from ..prep.host import PrepHost


def node_host(config_path: str | None) -> PrepHost:
    """The initialised node-side `PrepHost` of the configuration at ``config_path``
    (`corral.config.ConfigError` or `corral.prep.loader.PrepError`, one sentence, if it
    cannot be had)."""
    settings = prep_config.read(config_module.load(config_path))
    host = PrepHost(settings, controller=False, node=True)
    host.init()
    return host
