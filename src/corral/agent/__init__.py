"""Node agents in processes of their own: `daemon` is the ``corral agent`` process (a
`corral.exec.agent.NodeAgent` behind the transport's agent end), `nodes` the controller's side
(declared nodes mapped to ranks by hostname at registration, their liveness turned into node
state and ``node-fail`` exceptions).  Around them: `prep` (the node hooks an agent loads from
its own configuration), `logs` (every agent's log in the controller's), `forward` (commands on
any node, through its agent) and `bootstrap` (agents started by ``corral start`` over ssh or
srun)."""
