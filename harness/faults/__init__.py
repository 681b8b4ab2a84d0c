"""Faults injected into real runs, and the judgement of what each run left behind.

The harness's own proof that a "gap" is a real miss: a shipped scenario is run as a user
runs it (``python -m harness run``, a child process) while one fault is injected from
outside (the engine restarted, the container paused, the kernel log flooded, a second run
on the same engine, CPU hogs), and the run is judged on four counts:

- its exit code is one the CLI documents (0, 1, 2 or 130), never a crash (3) or a hang;
- no source says "gap" or "partial" where, with nothing injected, it saw every kill: a
  source the fault blinded must say "unavailable", with the reason;
- nothing it made is left on the engine;
- its result set is whole (result.json reads back, with its reports) or absent.

:mod:`harness.faults.inject` holds the faults, :mod:`harness.faults.judge` the four
counts and :mod:`harness.faults.trial` runs one trial. The benchmark (``bench/run.py
--faults``) runs them on this machine and, through a check, in the cgroup v2 guest.
"""
