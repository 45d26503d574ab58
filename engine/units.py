"""How numbers are shown: one place for units, so every output says GB (1e9 bytes) the same way."""

from __future__ import annotations

GB = 1e9  # decimal gigabyte: what vendors print on memory and what every llmhw output uses
GIB = 2**30


def gb(n_bytes: float | None, digits: int = 1) -> str:
    """Bytes as GB (1e9 bytes)."""
    return "?" if n_bytes is None else f"{n_bytes / GB:,.{digits}f} GB"


def usd(amount: float | None) -> str:
    """An amount in US dollars, rounded to a sensible precision."""
    if amount is None:
        return "price unknown"
    return f"{amount:,.2f} USD" if amount < 100 else f"{amount:,.0f} USD"


def rate(tokens_per_s: float | None) -> str:
    return "?" if tokens_per_s is None else f"{tokens_per_s:,.1f} tok/s" if tokens_per_s < 100 else f"{tokens_per_s:,.0f} tok/s"


def pct(fraction: float) -> str:
    return f"{fraction * 100:.0f}%"


def params(n: int) -> str:
    return f"{n / 1e9:,.1f} B" if n >= 1e9 else f"{n / 1e6:,.0f} M"
