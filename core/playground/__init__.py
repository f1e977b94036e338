"""The playground room: local and Runware images of the same prompts side by side, scored, kept as a report.

- pairs: running the pairs (local engine and Runware), scoring each
- report: the report folder (report.json, report.html)
"""

__all__ = ["pairs", "report"]
