"""Fraud and quality signals (风险提示): small named rules over a case and the cases around it.

A signal never decides: it is listed to the officer and the supervisor with its reason, and
the officer weighs it. Each rule (rules.py) reads its threshold from Settings; the service
computes a case's signals when collection completes and when the parties leave the scene,
stores them (so lists filter by signal without recomputing), and recomputes the other cases a
cross-case rule named, so both cases of a pair show it.
"""
