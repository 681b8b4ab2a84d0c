"""The diagnosis as text for a terminal: the conclusion, each question with its answer
and evidence, the advice, and what could not be decided. Every question, answer,
conclusion and certainty is shown in the words of :mod:`harness.diagnose.wording`."""

from __future__ import annotations

import textwrap

from harness.diagnose.model import Diagnosis
from harness.diagnose.wording import words

WIDTH = 100


def render_diagnosis(diagnosis: Diagnosis) -> str:
    """The whole diagnosis as plain text."""
    runs = f"{diagnosis.runs} run{'s' if diagnosis.runs != 1 else ''}"
    parts = [f"diagnosis of {diagnosis.scenario}: {runs} on {diagnosis.backend}",
             f"conclusion: {words(diagnosis.conclusion)} ({diagnosis.confidence_in_words})", ""]
    for number, branch in enumerate(diagnosis.branches, 1):
        parts.append(f"{number}. {words(branch.key)} {words(branch.verdict)}")
        parts += [_item(line, "     - ") for line in branch.evidence]
    if diagnosis.advice:
        parts += ["", "advice:"] + [_item(line, "  - ") for line in diagnosis.advice]
    undecided = diagnosis.undecided
    if undecided:
        parts += ["", "could not decide:"] + [_item(line, "  - ") for line in undecided]
    return "\n".join(parts)


def _item(text: str, bullet: str) -> str:
    """One bulleted line, wrapped to ``WIDTH`` under its bullet."""
    return textwrap.fill(text, WIDTH, initial_indent=bullet, subsequent_indent=" " * len(bullet))
