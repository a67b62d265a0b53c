"""Live market data from outside: the Rupeezy Vortex REST client and the poller that pushes its
quotes into the engine (``[market.vortex]``; ``engine.market.pushed_quotes`` receives them)."""
