"""CURVE key material: where it lives in a key directory, how it is made and read.

One key pair per node, and one for the controller::

    DIR/controller.key          the controller's public key (every agent needs it)
    DIR/controller.key_secret   the controller's secret key (the controller only)
    DIR/agents/NAME.key         node NAME's public key: the controller accepts these
    DIR/agents/NAME.key_secret  node NAME's secret key (that node only)

The file name is the node's identity: the controller accepts an agent only with a key that is
in ``DIR/agents`` and only for the hostname the file is named after, so a node's stolen key
speaks for that node alone and is revoked by removing its ``.key`` file.  Files are zmq
certificates (`zmq.auth.create_certificates`); secret files must not be readable by others.
"""

import glob
import os
import stat

import zmq.auth

CONTROLLER = "controller"
AGENTS = "agents"


class KeyMaterialError(Exception):
    """Key material missing or unsafe, in one sentence that says which file and why."""


def create(directory: str, nodes) -> list[str]:
    """Make the controller's key pair and one per node in ``nodes`` where missing; the
    paths of the files made (existing keys are kept, so adding a node changes no other)."""
    agents = os.path.join(directory, AGENTS)
    for path in (directory, agents):
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
    made = []
    for where, name in [(directory, CONTROLLER)] + [(agents, node) for node in nodes]:
        if os.path.exists(os.path.join(where, f"{name}.key_secret")):
            continue
        public, secret = zmq.auth.create_certificates(where, name)
        os.chmod(secret, 0o600)
        os.chmod(public, 0o644)
        made += [public, secret]
    return made


def check_node_name(name: str) -> str | None:
    """Why ``name`` cannot name a node's key file (None if it can)."""
    if not name or name.startswith(".") or "/" in name or name == CONTROLLER:
        return f"{name!r} is not a usable node name"
    return None


def _check_directory(directory: str):
    if not os.path.isdir(directory):
        raise KeyMaterialError(f"key directory {directory} does not exist "
                               "(corral keygen makes it)")


def _load(path: str, remedy: str) -> tuple[bytes, bytes | None]:
    """``zmq.auth.load_certificate``, with a missing file named as such (zmq calls it an
    invalid certificate) and ``remedy`` the command that makes it."""
    if not os.path.exists(path):
        raise KeyMaterialError(f"{path} does not exist ({remedy} makes it)")
    try:
        return zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise KeyMaterialError(f"cannot read the key in {path}: "
                               f"{getattr(exc, 'strerror', None) or exc}") from None


def _secret(path: str, remedy: str = "corral keygen") -> tuple[bytes, bytes]:
    public, secret = _load(path, remedy)
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyMaterialError(f"{path} is accessible by other users (mode "
                               f"{stat.S_IMODE(mode):o}): make it 0600")
    if secret is None:
        raise KeyMaterialError(f"{path} holds no secret key")
    return public, secret


def _public(path: str) -> bytes:
    return _load(path, "corral keygen")[0]


class ControllerKeys:
    """The controller's key pair and the agents' public keys, read again whenever the
    agents directory changes (a key added or removed counts from the next connection)."""

    def __init__(self, directory: str):
        _check_directory(directory)
        self.directory = directory
        self.agents_dir = os.path.join(directory, AGENTS)
        self.public, self.secret = _secret(os.path.join(directory, f"{CONTROLLER}.key_secret"))
        self._accepted: dict[bytes, str] = {}
        self._accepted_version = None
        self.accepted()

    def accepted(self) -> dict[bytes, str]:
        """``{z85 public key: node name}`` of the agent keys in the directory now."""
        try:
            version = os.stat(self.agents_dir).st_mtime_ns
        except OSError as exc:
            raise KeyMaterialError(f"cannot read {self.agents_dir}: {exc.strerror}") from None
        if version != self._accepted_version:
            accepted = {}
            for path in sorted(glob.glob(os.path.join(glob.escape(self.agents_dir), "*.key"))):
                name = os.path.basename(path)[:-len(".key")]
                accepted[_public(path)] = name
            self._accepted, self._accepted_version = accepted, version
        return self._accepted


class AgentKeys:
    """A node's key pair and the controller's public key."""

    def __init__(self, directory: str, hostname: str):
        _check_directory(directory)
        self.directory = directory
        self.controller_public = _public(os.path.join(directory, f"{CONTROLLER}.key"))
        self.public, self.secret = _secret(
            os.path.join(directory, AGENTS, f"{hostname}.key_secret"),
            f"corral keygen --nodes {hostname} {directory}")
