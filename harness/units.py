"""Units the harness counts in."""

from __future__ import annotations

#: One mebibyte: limits, samples and figures are bytes; tables and notes show MiB.
MIB = 1024 * 1024
