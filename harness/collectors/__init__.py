"""Collectors: one module per signal source.

Each module has pure parsing functions (tested on recorded, real-format inputs) and, where
the source is live, a collector that feeds them from the machine. Every live collector
implements :class:`harness.collectors.base.Collector` (start, stop, snapshot, status) and
runs on the one thread helper there, so a source that failed reports
``unavailable: reason`` the same way everywhere. Collectors produce
:class:`harness.evidence.Observation` records tagged with matrix source ids.
"""
