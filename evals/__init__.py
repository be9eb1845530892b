"""Evaluation: how good the answers are on a question set (tests/ checks behaviour; this measures).

Owns the question sets and their loader (evals/dataset.py), the metrics (one small function each,
evals/metrics.py), scoring (evals/scoring.py), the summary and the gate (evals/summary.py,
evals/gate.py, evals/thresholds.toml), the reports and charts, the reviewers' notebook and the
benchmarks. Reads answers through rag; hands on report.json/md/html. Adds `qa eval`.
"""
