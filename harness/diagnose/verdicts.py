"""What the playbook's tree can say, as types: its questions, the answers each question
can get, the conclusions it ends at and how firmly.

The tree decides by comparing these members, never text, so a reworded answer cannot
change a decision. Their words for a reader live in :mod:`harness.diagnose.wording`.

``Question``, ``Conclusion`` and ``Certainty`` are string enums whose values are the
stable ids the JSON carries (``kill``, ``leak_suspicion``, ``firm``), so code reading a
diagnosis may compare them with those strings. The answers are plain enums: they reach a
reader only through their words, and no code should compare them with text.
"""

from __future__ import annotations

from enum import Enum, StrEnum, auto
from typing import TypeAlias


class Question(StrEnum):
    """The tree's questions in the playbook's order; the value is the branch's key."""

    KILL = "kill"
    GROWTH = "growth"
    SHAPE = "shape"
    REPEAT = "repeat"


class Conclusion(StrEnum):
    """The leaf the tree ends at; the value is its id in the JSON."""

    LEAK = "leak_suspicion"
    PEAK = "peak_demand"
    OTHER = "other_cause"


class Certainty(StrEnum):
    """How firmly the conclusion holds: ``FIRM`` when every branch on the way was answered
    from the evidence, ``TENTATIVE`` when one had to be taken without it."""

    FIRM = "firm"
    TENTATIVE = "tentative"

    @classmethod
    def of(cls, sure: bool) -> Certainty:
        """``FIRM`` when ``sure``, else ``TENTATIVE``."""
        return cls.FIRM if sure else cls.TENTATIVE


class Killed(Enum):
    """Was a process killed for lack of memory?"""

    YES = auto()
    NO = auto()
    UNDECIDED = auto()


class Growth(Enum):
    """Does memory grow toward the limit?"""

    YES = auto()
    NO = auto()
    UNDECIDED = auto()


class Shape(Enum):
    """A steady climb or a jump, for one run or for all of them; when the runs disagree,
    which way most of them went."""

    STEADY = auto()
    JUMP = auto()
    MIXED_MOSTLY_STEADY = auto()
    MIXED_MOSTLY_JUMP = auto()
    UNDECIDED = auto()

    @classmethod
    def mixed(cls, mostly: Shape) -> Shape:
        """The answer for runs that disagree, most of them going the ``mostly`` way."""
        return cls.MIXED_MOSTLY_JUMP if mostly is cls.JUMP else cls.MIXED_MOSTLY_STEADY

    @property
    def majority(self) -> Shape | None:
        """``STEADY`` or ``JUMP``: the way the runs (all or most of them) went; None when
        the evidence could not tell."""
        if self in (Shape.STEADY, Shape.MIXED_MOSTLY_STEADY):
            return Shape.STEADY
        if self in (Shape.JUMP, Shape.MIXED_MOSTLY_JUMP):
            return Shape.JUMP
        return None

    @property
    def unanimous(self) -> bool:
        """False when the runs disagreed and the answer only follows their majority."""
        return self not in (Shape.MIXED_MOSTLY_STEADY, Shape.MIXED_MOSTLY_JUMP)


class Repeat(Enum):
    """Does memory reset after the restart and grow again, and where was that seen?"""

    WITHIN_A_RUN = auto()
    IN_EVERY_RUN = auto()
    IN_MOST_RUNS = auto()
    NO = auto()
    UNDECIDED = auto()

    @property
    def seen(self) -> bool:
        """True when the growth was seen to repeat (any of the "yes" answers)."""
        return self in (Repeat.WITHIN_A_RUN, Repeat.IN_EVERY_RUN, Repeat.IN_MOST_RUNS)


Answer: TypeAlias = Killed | Growth | Shape | Repeat
"""Any branch's answer."""

Worded: TypeAlias = Question | Conclusion | Certainty | Answer
"""Everything that has words for a reader (see :mod:`harness.diagnose.wording`)."""
