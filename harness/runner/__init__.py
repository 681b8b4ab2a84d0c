"""The runner: drives a scenario's steps against a backend's target and judges the result."""

from harness.runner.run import run_scenario

__all__ = ["run_scenario"]
