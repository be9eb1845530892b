"""Evaluation: measure answer quality on a question set (not behaviour tests; see tests/)."""
