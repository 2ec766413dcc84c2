"""The text a product is found by, folded the same way as what a buyer types."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable


def search_fold(text: str) -> str:
    """Compatibility forms unified (full-width ＵＳＢ is USB), case folded for
    every script (SQLite's LIKE and LOWER fold only ASCII), and ё read as е,
    as most Russians type it."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    return " ".join(folded.split())


def search_text_of(parts: Iterable[str]) -> str:
    """One folded line of the non-empty parts, each once, in order."""
    seen: dict[str, None] = {}
    for part in parts:
        folded = search_fold(part)
        if folded:
            seen.setdefault(folded, None)
    return " ".join(seen)
