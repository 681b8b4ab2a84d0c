"""Backends: where a scenario runs. ``docker`` runs it locally; ``azure`` is an optional extra."""
