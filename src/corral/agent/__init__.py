"""Node agents in processes of their own: `daemon` is the ``corral agent`` process (a
`corral.exec.agent.NodeAgent` behind the transport's agent end), `nodes` the controller's side
(declared nodes mapped to ranks by hostname at registration, their liveness turned into node
state and ``node-fail`` exceptions)."""
