"""oom-harness: reproduce container OOM-kill observability gaps locally, offline, in seconds."""

__version__ = "0.1.0"
