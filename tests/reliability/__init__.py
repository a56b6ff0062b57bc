"""The reliability suite: faults injected into real servers, bad input, fuzzing and hostile callers.

Every test ends by checking fpvsync's guarantees against the source, computed independently from the JSON files
(:mod:`tests.reliability.invariants`).
"""
