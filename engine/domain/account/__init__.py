"""The trading account as a pure state machine: its state, ``decide``, the fills it books and
``apply``."""
