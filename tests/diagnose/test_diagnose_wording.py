"""The tree's typed answers and their words: every member has words, written once, and the
decisions follow the members, not the words."""

from __future__ import annotations

import inspect
from enum import Enum
from pathlib import Path
from typing import cast

import pytest

from harness.diagnose import diagnose, diagnosis_data, render_diagnosis, verdicts, wording
from harness.diagnose.model import Branch
from harness.diagnose.tree import conclude
from harness.diagnose.verdicts import Certainty, Conclusion, Growth, Killed, Question, Repeat, Shape
from harness.result import load_result

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"

ENUMS: list[type[Enum]] = [
    obj for _, obj in inspect.getmembers(verdicts, inspect.isclass)
    if issubclass(obj, Enum) and obj.__module__ == verdicts.__name__
]
MEMBERS = [cast(verdicts.Worded, member) for enum in ENUMS for member in enum]


def test_every_enum_of_the_tree_is_found() -> None:
    assert set(ENUMS) == {Question, Conclusion, Certainty, Killed, Growth, Shape, Repeat}


@pytest.mark.parametrize("member", MEMBERS, ids=lambda m: f"{type(m).__name__}.{m.name}")
def test_every_member_has_its_words(member: verdicts.Worded) -> None:
    assert member in wording.WORDS
    text = wording.words(member)
    assert text and text == text.strip()


def test_the_words_hold_nothing_else() -> None:
    """One entry per member: no stray key, and no two members collapsed into one entry."""
    assert len(wording.WORDS) == len(MEMBERS)


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_the_members_of_one_enum_read_differently(enum: type[Enum]) -> None:
    texts = [wording.words(member) for member in MEMBERS if type(member) is enum]
    assert len(set(texts)) == len(texts)


def test_the_words_are_todays_output() -> None:
    assert [wording.words(s) for s in Shape] == [
        "steady climb", "jump", "mixed, mostly steady climb", "mixed, mostly jump", "undecided"]
    assert [wording.words(r) for r in Repeat] == [
        "yes, within a run", "yes, in every run", "yes, in most runs", "no", "undecided"]
    assert dict(wording.TITLES) == {Conclusion.LEAK: "leak suspicion", Conclusion.PEAK: "peak demand over the limit",
                                    Conclusion.OTHER: "cause other than memory"}


def test_rewording_changes_what_is_said_not_what_is_decided(monkeypatch: pytest.MonkeyPatch) -> None:
    result = load_result(RESULTS / "gradual.json")
    before = diagnose(result)
    monkeypatch.setattr(wording, "WORDS", {member: f"<{member.name.lower()}>" for member in MEMBERS})
    after = diagnose(result)
    assert (after.conclusion, after.confidence) == (before.conclusion, before.confidence) == (
        Conclusion.LEAK, Certainty.FIRM)
    assert [b.verdict for b in after.branches] == [Killed.YES, Growth.YES, Shape.STEADY, Repeat.IN_EVERY_RUN]
    text = render_diagnosis(after)
    assert "conclusion: <leak> (<firm>)" in text
    assert "4. <repeat> <in_every_run>" in text
    data = diagnosis_data(after)
    assert (data["conclusion"], data["title"], data["confidence"]) == ("leak_suspicion", "<leak>", "<firm>")
    assert data["branches"][3]["answer"] == "<in_every_run>"


def test_shape_and_repeat_members_say_which_way_they_lean() -> None:
    assert [s.majority for s in Shape] == [Shape.STEADY, Shape.JUMP, Shape.STEADY, Shape.JUMP, None]
    assert [s.unanimous for s in Shape] == [True, True, False, False, True]
    assert Shape.mixed(Shape.STEADY) is Shape.MIXED_MOSTLY_STEADY
    assert Shape.mixed(Shape.JUMP) is Shape.MIXED_MOSTLY_JUMP
    assert [r.seen for r in Repeat] == [True, True, True, False, False]


LEAK, PEAK, OTHER = Conclusion.LEAK, Conclusion.PEAK, Conclusion.OTHER
FIRM, TENTATIVE = Certainty.FIRM, Certainty.TENTATIVE
YES_REPEATS = (Repeat.WITHIN_A_RUN, Repeat.IN_EVERY_RUN, Repeat.IN_MOST_RUNS)


def _expected(shape: Shape, repeat: Repeat) -> tuple[Conclusion, Certainty]:
    """The playbook's leaves after a kill and growth toward the limit, as a table."""
    seen = repeat in YES_REPEATS
    table: dict[Shape, tuple[Conclusion, Certainty]] = {
        Shape.JUMP: (PEAK, FIRM),
        Shape.MIXED_MOSTLY_JUMP: (PEAK, TENTATIVE),
        Shape.STEADY: (LEAK, FIRM) if seen else (LEAK if repeat is Repeat.UNDECIDED else PEAK, TENTATIVE),
        Shape.MIXED_MOSTLY_STEADY: (LEAK, TENTATIVE) if seen
        else (LEAK if repeat is Repeat.UNDECIDED else PEAK, TENTATIVE),
        Shape.UNDECIDED: (LEAK if seen else PEAK, TENTATIVE),
    }
    return table[shape]


@pytest.mark.parametrize("repeat", list(Repeat), ids=lambda r: r.name)
@pytest.mark.parametrize("shape", list(Shape), ids=lambda s: s.name)
def test_the_conclusion_after_a_kill_and_growth(shape: Shape, repeat: Repeat) -> None:
    kill = Branch(Question.KILL, Killed.YES)
    assert conclude(kill, Growth.YES, (shape, repeat)) == _expected(shape, repeat)


@pytest.mark.parametrize(("kill", "growth", "undecided", "expected"), [
    (Killed.NO, Growth.NO, (), (OTHER, FIRM)),
    (Killed.NO, Growth.NO, ("no cgroup counter",), (OTHER, TENTATIVE)),
    (Killed.NO, Growth.YES, (), (OTHER, TENTATIVE)),
    (Killed.NO, Growth.UNDECIDED, (), (OTHER, TENTATIVE)),
    (Killed.YES, Growth.NO, (), (OTHER, FIRM)),
    (Killed.YES, Growth.UNDECIDED, (), (OTHER, TENTATIVE)),
    (Killed.UNDECIDED, Growth.UNDECIDED, (), (OTHER, TENTATIVE)),
])
def test_the_conclusion_without_growth_or_kill(
    kill: Killed, growth: Growth, undecided: tuple[str, ...], expected: tuple[Conclusion, Certainty]
) -> None:
    rise = (Shape.STEADY, Repeat.IN_EVERY_RUN) if growth is Growth.YES else None
    assert conclude(Branch(Question.KILL, kill, undecided=undecided), growth, rise) == expected
