"""Units the harness counts in: binary multiples of a byte, declared once.

Limits, samples and figures are bytes; tables and notes show MiB. Scenario files' sizes
(``512Mi``) are binary too (:mod:`harness.scenario.units`)."""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB
