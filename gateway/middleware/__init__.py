"""The public app's HTTP middlewares and response hooks, one concern each: failures rendered as
error bodies, the Origin check on login and register, JSON bodies only, the password-change
gate, the body deadline, and the headers every answer carries. ``gateway.app`` puts them in
order, around ``gateway.auth``'s session check.
"""
