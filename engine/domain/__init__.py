"""The pure domain: money, charges, margin, instruments, orders, positions and the account as a
state machine. No threads, actors, numpy or I/O: every rule is a function of its inputs."""
