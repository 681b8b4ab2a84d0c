"""The lab application: a Flask app, a PID-1 allocator and a supervisor that get OOM-killed on purpose.

The harness drives these inside memory-limited containers and reads their logs; the
stdlib-only :mod:`labapp.cgroupfs` module is also imported by the harness on the host.
"""
