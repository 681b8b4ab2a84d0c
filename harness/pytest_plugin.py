"""pytest plugin: the ``oom_harness`` fixture (being written)."""
