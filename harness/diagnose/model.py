"""What a diagnosis is made of: the branches of the playbook's tree it walked, the
conclusion it reached, the advice for that conclusion and what it could not decide.

Answers, conclusion and certainty are held as the typed members of
:mod:`harness.diagnose.verdicts`; their words come from :mod:`harness.diagnose.wording`
only when a reader (the text rendering, the JSON) asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from harness.diagnose.verdicts import Answer, Certainty, Conclusion, Question
from harness.diagnose.wording import TITLES, words

# The former string constants, now the enum members (which still equal those strings).
LEAK = Conclusion.LEAK
PEAK = Conclusion.PEAK
OTHER = Conclusion.OTHER
FIRM = Certainty.FIRM
TENTATIVE = Certainty.TENTATIVE

__all__ = ["FIRM", "LEAK", "OTHER", "PEAK", "TENTATIVE", "TITLES", "Branch", "Diagnosis", "diagnosis_data"]

AnswerT = TypeVar("AnswerT", bound=Answer, covariant=True)


@dataclass(frozen=True)
class Branch(Generic[AnswerT]):
    """One question of the decision tree, the answer the evidence gave, and why.

    Attributes:
        key: which question (its value, ``kill``, ``growth``, ``shape`` or ``repeat``,
            is the id for code and JSON).
        verdict: the typed answer (e.g. ``Repeat.IN_EVERY_RUN``): what later decisions read.
        evidence: the figures behind the answer, one line each.
        undecided: what this branch could not tell from the evidence, and why.
    """

    key: Question
    verdict: AnswerT
    evidence: tuple[str, ...] = ()
    undecided: tuple[str, ...] = ()

    @property
    def question(self) -> str:
        """The question as the playbook asks it."""
        return words(self.key)

    @property
    def answer(self) -> str:
        """The answer in words (``yes``, ``no``, ``jump``, ``undecided`` ...)."""
        return words(self.verdict)


@dataclass(frozen=True)
class Diagnosis:
    """Where the tree ended for one result, with everything a reader needs to check it.

    ``confidence`` is ``FIRM`` when every branch on the way was answered from the
    evidence, ``TENTATIVE`` when one had to be taken without it (see ``undecided``).
    """

    scenario: str
    backend: str
    runs: int
    conclusion: Conclusion
    confidence: Certainty
    branches: tuple[Branch[Answer], ...]
    advice: tuple[str, ...] = field(default_factory=tuple)

    @property
    def title(self) -> str:
        """The conclusion in words, e.g. ``peak demand over the limit``."""
        return words(self.conclusion)

    @property
    def confidence_in_words(self) -> str:
        """The confidence in words (``firm``, ``tentative``)."""
        return words(self.confidence)

    @property
    def undecided(self) -> list[str]:
        """What the branches could not decide, in the order they were asked."""
        return list(dict.fromkeys(line for branch in self.branches for line in branch.undecided))

    def branch(self, key: str) -> Branch[Answer]:
        """The branch with ``key`` (a :class:`Question` or its value); KeyError when the
        tree never asked it."""
        for branch in self.branches:
            if branch.key == key:
                return branch
        raise KeyError(f"no branch {key!r} in this diagnosis")


class BranchData(BaseModel):
    """A branch as ``harness diagnose --json`` writes it: its key, its question and answer
    in words, the evidence and what it could not decide."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    key: str
    question: str
    answer: str
    evidence: list[str]
    undecided: list[str]


class DiagnosisData(BaseModel):
    """``harness diagnose --json``: the conclusion by its id and in words (``title``), the
    confidence, the branches, the advice and what was left undecided. Read from a
    :class:`Diagnosis`'s attributes (its words are its properties)."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    scenario: str
    backend: str
    runs: int
    conclusion: str
    title: str
    confidence: str = Field(validation_alias="confidence_in_words")
    branches: list[BranchData]
    advice: list[str]
    undecided: list[str]


def diagnosis_data(diagnosis: Diagnosis) -> dict[str, Any]:
    """``diagnosis`` as JSON data (what ``harness diagnose --json`` prints)."""
    data: dict[str, Any] = DiagnosisData.model_validate(diagnosis).model_dump(mode="json")
    return data
