"""``harness diagnose``: walk the memory-leak playbook's decision tree on a result.

A result from any backend is read the same way: was a process killed for memory, does
memory grow toward the limit, a steady climb or a jump, does it grow again after the
restart. The answer is one of three conclusions (leak suspicion, peak demand over the
limit, a cause other than memory), with the evidence behind every branch, the advice
for that case and what the evidence could not decide.

    from harness.diagnose import diagnose, render_diagnosis
    from harness.result import load_result

    print(render_diagnosis(diagnose(load_result("results/gradual"))))

The tree decides on the typed answers of :mod:`harness.diagnose.verdicts`; what a reader
sees for each of them is written once, in :mod:`harness.diagnose.wording`.
"""

from harness.diagnose.model import LEAK, OTHER, PEAK, Branch, Diagnosis, diagnosis_data
from harness.diagnose.render import render_diagnosis
from harness.diagnose.tree import diagnose, diagnose_runs
from harness.diagnose.verdicts import Answer, Certainty, Conclusion, Growth, Killed, Question, Repeat, Shape
from harness.diagnose.wording import TITLES, WORDS, words

__all__ = ["LEAK", "OTHER", "PEAK", "TITLES", "WORDS", "Answer", "Branch", "Certainty", "Conclusion", "Diagnosis",
           "Growth", "Killed", "Question", "Repeat", "Shape", "diagnose", "diagnose_runs", "diagnosis_data",
           "render_diagnosis", "words"]
