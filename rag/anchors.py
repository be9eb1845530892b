"""Anchors of the support test (rag/grounding.py) that read the raw text of a passage window,
not its stems: the links and markup it carries, and how it writes an acronym."""

from __future__ import annotations

import re

from rag.places import country_code

# Links, e-mail addresses, HTML tags and Markdown links or images: what a sentence carries of
# them must stand in the passage as written, or a generation could smuggle in a link of its own.
LINK_OR_MARKUP = re.compile(
    r"https?://[^\s<>()\]]+|www\.[^\s<>()\]]+|[\w.+-]+@[\w-]+\.[\w.]+|<\s*/?\s*[A-Za-z][^>]*>|!?\[[^\]]*\]\([^)]*\)"
)


def links_not_in(text: str, window: str) -> list[str]:
    """The sentence's links, addresses, tags and Markdown links that the window does not hold."""
    found = dict.fromkeys(m.group(0).rstrip(".,;:") for m in LINK_OR_MARKUP.finditer(text))
    return [item for item in found if item not in window]


def lowercase_only(name: str, window: str) -> bool:
    """An acronym ("NATO", "PWNED") the window has only in lower case, inside other text (an
    identifier such as "window.__pwned"); "Nato", as some publications write it, still counts."""
    if not (name.isupper() and name.isalpha() and len(name) >= 2) or country_code(name) is not None:
        return False
    written = re.findall(rf"(?<![^\W_]){re.escape(name)}(?![^\W_])", window, re.IGNORECASE)
    return bool(written) and not any(w[0].isupper() for w in written)
