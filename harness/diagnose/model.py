"""What a diagnosis is made of: the branches of the playbook's tree it walked, the
conclusion it reached, the advice for that conclusion and what it could not decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LEAK = "leak_suspicion"
PEAK = "peak_demand"
OTHER = "other_cause"

TITLES: dict[str, str] = {
    LEAK: "leak suspicion",
    PEAK: "peak demand over the limit",
    OTHER: "cause other than memory",
}

FIRM = "firm"
TENTATIVE = "tentative"


@dataclass(frozen=True)
class Branch:
    """One question of the decision tree, the answer the evidence gave, and why.

    Attributes:
        key: a short id (``kill``, ``growth``, ``shape``, ``repeat``) for code and JSON.
        question: the question as the playbook asks it.
        answer: the short answer (``yes``, ``no``, ``jump``, ``undecided`` ...).
        evidence: the figures behind the answer, one line each.
        undecided: what this branch could not tell from the evidence, and why.
    """

    key: str
    question: str
    answer: str
    evidence: tuple[str, ...] = ()
    undecided: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "question": self.question, "answer": self.answer,
                "evidence": list(self.evidence), "undecided": list(self.undecided)}


@dataclass(frozen=True)
class Diagnosis:
    """Where the tree ended for one result, with everything a reader needs to check it.

    ``confidence`` is ``firm`` when every branch on the way was answered from the
    evidence, ``tentative`` when one had to be taken without it (see ``undecided``).
    """

    scenario: str
    backend: str
    runs: int
    conclusion: str
    confidence: str
    branches: tuple[Branch, ...]
    advice: tuple[str, ...] = field(default_factory=tuple)

    @property
    def title(self) -> str:
        """The conclusion in words, e.g. ``peak demand over the limit``."""
        return TITLES[self.conclusion]

    @property
    def undecided(self) -> list[str]:
        """What the branches could not decide, in the order they were asked."""
        return list(dict.fromkeys(line for branch in self.branches for line in branch.undecided))

    def branch(self, key: str) -> Branch:
        """The branch with ``key``; KeyError when the tree never asked it."""
        for branch in self.branches:
            if branch.key == key:
                return branch
        raise KeyError(f"no branch {key!r} in this diagnosis")

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "backend": self.backend,
            "runs": self.runs,
            "conclusion": self.conclusion,
            "title": self.title,
            "confidence": self.confidence,
            "branches": [b.to_json() for b in self.branches],
            "advice": list(self.advice),
            "undecided": self.undecided,
        }
