"""Retrieval and answering: from a question to an answer whose every quote is an exact source span."""
