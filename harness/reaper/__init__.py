"""The reaper that runs inside the reaper image (stdlib only); the harness starts it, never imports it."""
