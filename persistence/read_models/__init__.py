"""Queries over the projections that the gateway's lists, console and admin pages read."""
