"""Collectors: one module per signal source.

Each module has pure parsing functions (tested on recorded, real-format inputs) and, where
the source is live, a small collector that feeds them from the machine. Collectors produce
:class:`harness.evidence.Observation` records tagged with matrix source ids.
"""
