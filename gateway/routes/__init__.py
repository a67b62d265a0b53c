"""The HTTP routes, one module per family of paths. No route module imports another: what
several of them need lives beside this folder, in a module named for it (``gateway.outcomes``,
``gateway.order_commands``, ``gateway.funds_views``, ...)."""
