"""What the server tells its operators: Prometheus metrics and the listener that serves them on
their own port, the in-process performance figures behind ``/api/monitoring/performance``, and
the structured logs."""
