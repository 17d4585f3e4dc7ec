"""Evaluation: suites (suites.py) → runs of the assistant (runner.py) → metrics (metrics.py) → gate (gate.py)
→ reports (report.py, templates/); ``assistant eval`` is cli.py."""
