"""The runtime: the worker pool, the account and market actors, the registry that finds and
passivates accounts, the event sink, the clock, and ``TradingEngine`` that wires them."""
