"""The lab application: a Flask app, a PID-1 allocator and a supervisor that get OOM-killed on purpose.

These modules run inside the lab image, never in the harness's process: the harness drives
them in memory-limited containers and reads their logs. They share one stdlib-only module
with the harness, :mod:`harness.cgroupfs`, which the image build copies in beside them.
"""
