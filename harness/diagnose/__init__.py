"""``harness diagnose``: walk the memory-leak playbook's decision tree on a result.

A result from any backend is read the same way: was a process killed for memory, does
memory grow toward the limit, a steady climb or a jump, does it grow again after the
restart. The answer is one of three conclusions (leak suspicion, peak demand over the
limit, a cause other than memory), with the evidence behind every branch, the advice
for that case and what the evidence could not decide.

    from harness.diagnose import diagnose, render_diagnosis
    from harness.result import load_result

    print(render_diagnosis(diagnose(load_result("results/gradual"))))
"""

from harness.diagnose.model import LEAK, OTHER, PEAK, TITLES, Branch, Diagnosis
from harness.diagnose.render import render_diagnosis
from harness.diagnose.tree import diagnose, diagnose_runs

__all__ = ["LEAK", "OTHER", "PEAK", "TITLES", "Branch", "Diagnosis", "diagnose", "diagnose_runs", "render_diagnosis"]
