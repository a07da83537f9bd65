"""The controller ⇄ agent message layer: ZeroMQ (a ROUTER on the controller, a DEALER per
agent) over ``tcp://`` or ``ipc://``, authenticated and encrypted with CURVE.

What it guarantees: an exec message is applied once, in order, by the peer it was sent to —
across broken connections and reconnects, as long as both ends keep running (numbered
messages, acknowledgements, replay); peers are heard every heartbeat and reported
unresponsive and lost when they fall silent; only agents whose key is in the key directory
connect, each only as the node its key is named for, and only a controller holding the
controller's secret key is talked to.

Modules: `settings` (the clocks), `keys` (key files), `registration` (what an agent
announces), `frames` (the wire), `sequence` and `liveness` (the pure rules), `link` (one peer's
bookkeeping), `sockets` (options both ends share), `controller` and `agent` (the two ends).
"""

from .agent import AgentTransport
from .controller import ControllerTransport
from .keys import KeyMaterialError
from .registration import Registration, this_node
from .settings import Settings

__all__ = ["AgentTransport", "ControllerTransport", "KeyMaterialError", "Registration",
           "Settings", "this_node"]
