"""Money: electricity, rentals and buying against renting (BUD rules, training runs). Pure functions over numbers."""

from __future__ import annotations

DAYS_PER_YEAR = 365  # rentals and power are paid for the hours a deployment runs in a year
SECONDS_PER_HOUR = 3600
MONTHS_PER_YEAR = 12
WH_PER_KWH = 1000


def power_cost_usd(device_w: float | None, devices: int, hours: float, usd_per_kwh: float) -> float | None:
    """Electricity for ``devices`` drawing ``device_w`` watts each (a GPU's rated power, or its share of a whole
    system's) over ``hours``."""
    if device_w is None:
        return None
    return device_w * devices * hours / WH_PER_KWH * usd_per_kwh


def break_even_months(purchase_usd: float, rent_usd_per_hour: float, power_usd_per_year: float | None, hours_per_day: float) -> float | None:
    """Months of use after which buying (purchase, then power) costs less than renting the same devices; ``None`` if
    an hour of power costs as much as an hour of rental, so buying never catches up. A month is a twelfth of a year
    of ``hours_per_day``; power is the option's yearly figure (electricity-usd-per-kwh, llmhw-assumption) per hour used."""
    hours_per_year = hours_per_day * DAYS_PER_YEAR
    saving_per_hour = rent_usd_per_hour - (power_usd_per_year or 0) / hours_per_year
    if saving_per_hour <= 0:
        return None
    return purchase_usd / saving_per_hour / (hours_per_year / MONTHS_PER_YEAR)


def rental_hours(budget_usd: float, usd_per_hour: float) -> float:
    """Hours of rental a budget pays for."""
    return budget_usd / usd_per_hour


def training_seconds(tokens: int, tokens_per_s: float) -> float:
    """Wall-clock seconds to train on ``tokens`` tokens at a training throughput (tokens / tokens per second)."""
    return tokens / tokens_per_s


def rental_cost_usd(seconds: float, usd_per_hour: float) -> float:
    """What renting costs for a run of ``seconds``, at the configuration's price per hour (all its devices)."""
    return seconds / SECONDS_PER_HOUR * usd_per_hour
