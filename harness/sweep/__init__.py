"""Many variants of one scenario, and the smallest memory limit a workload needs.

``harness sweep`` runs every combination of ``--set`` values as its own ``harness run``
(a child process, its own containers, network and collectors), as many at once as the
engine's CPUs and memory hold, and summarises them in one table and plot.
``harness right-size`` bisects ``limits.memory`` with the kill as the judge.

- :mod:`harness.sweep.variants`: the variants (the product of the ``--set`` values);
- :mod:`harness.sweep.schedule`: which variant may start now (pure);
- :mod:`harness.sweep.children`: one variant run as a child ``harness run``;
- :mod:`harness.sweep.run`: the sweep itself; :mod:`harness.sweep.summary` its typed result;
- :mod:`harness.sweep.rightsize`: the bisection.
"""
