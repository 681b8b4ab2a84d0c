"""The words a reader sees for every question, answer, conclusion and certainty of the
tree: the one place they are written, read by the text rendering and by the JSON.

Rewording here changes what a diagnosis says, never what it decides (the tree compares
the members of :mod:`harness.diagnose.verdicts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from harness.diagnose.verdicts import Certainty, Conclusion, Growth, Killed, Question, Repeat, Shape, Worded

WORDS: Final[Mapping[Worded, str]] = MappingProxyType({
    Question.KILL: "Was a process killed for lack of memory?",
    Question.GROWTH: "Does memory grow toward the limit?",
    Question.SHAPE: "Compared with traffic and time: a steady climb, or a jump?",
    Question.REPEAT: "Does memory reset after the restart and grow again?",
    Killed.YES: "yes",
    Killed.NO: "no",
    Killed.UNDECIDED: "undecided",
    Growth.YES: "yes",
    Growth.NO: "no",
    Growth.UNDECIDED: "undecided",
    Shape.STEADY: "steady climb",
    Shape.JUMP: "jump",
    Shape.MIXED_MOSTLY_STEADY: "mixed, mostly steady climb",
    Shape.MIXED_MOSTLY_JUMP: "mixed, mostly jump",
    Shape.UNDECIDED: "undecided",
    Repeat.WITHIN_A_RUN: "yes, within a run",
    Repeat.IN_EVERY_RUN: "yes, in every run",
    Repeat.IN_MOST_RUNS: "yes, in most runs",
    Repeat.NO: "no",
    Repeat.UNDECIDED: "undecided",
    Conclusion.LEAK: "leak suspicion",
    Conclusion.PEAK: "peak demand over the limit",
    Conclusion.OTHER: "cause other than memory",
    Certainty.FIRM: "firm",
    Certainty.TENTATIVE: "tentative",
})


def words(member: Worded) -> str:
    """What a reader sees for ``member``, e.g. ``yes, in every run`` for ``Repeat.IN_EVERY_RUN``."""
    return WORDS[member]


TITLES: Final[Mapping[Conclusion, str]] = MappingProxyType({c: words(c) for c in Conclusion})
"""The conclusions' words alone (kept for code that imported ``TITLES`` before)."""
