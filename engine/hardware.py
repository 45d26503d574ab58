"""`llmhw hardware`: the catalog's devices as a buyer compares them, filtered, and the prices that have aged.

Pure functions over a loaded catalog and a date; ``today`` is the one clock reading (UTC), so tests can pin it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from .knowledge.loader import Catalog
from .knowledge.schema import Accelerator, Price
from .planner.costs import prices_of
from .units import GB, usd


@dataclass(frozen=True)
class Filters:
    """What the user asked to see; None means no limit."""

    ecosystem: str | None = None
    kind: str | None = None
    min_memory_gb: float | None = None  # usable memory, GB = 1e9 bytes
    max_price_usd: float | None = None  # the newest buy price; devices without one are left out when this is set


def today() -> date:
    """Today's date in UTC: what price ages are counted to."""
    return datetime.now(timezone.utc).date()


def age_months(price_date: str, today: date) -> int:
    """Whole months from a price's date (YYYY, YYYY-MM or YYYY-MM-DD; a year alone counts from its January) to today."""
    parts = [int(x) for x in price_date.split("-")]
    year, month = parts[0], parts[1] if len(parts) > 1 else 1
    return max(0, (today.year - year) * 12 + today.month - month)


def rent_price(accel: Accelerator) -> Price | None:
    """The cheapest on-demand device-hour, else the cheapest rent price of any kind."""
    rents = [p for p in accel.prices if p.is_rent]
    on_demand = [p for p in rents if p.kind == "cloud-on-demand"]
    return min(on_demand or rents, key=lambda p: p.usd) if rents else None


def select(cat: Catalog, filters: Filters) -> list[Accelerator]:
    """The devices that pass every filter, by ecosystem, then usable memory, then id."""
    def keep(a: Accelerator) -> bool:
        price = prices_of(a)[0]
        return ((filters.ecosystem is None or a.ecosystem == filters.ecosystem)
                and (filters.kind is None or a.kind == filters.kind)
                and (filters.min_memory_gb is None or a.usable_memory_bytes >= filters.min_memory_gb * GB)
                and (filters.max_price_usd is None or (price is not None and price.per_device_usd <= filters.max_price_usd)))
    return sorted(filter(keep, cat.accelerators.values()), key=lambda a: (a.ecosystem, a.usable_memory_bytes, a.id))


def _price(p: Price | None, cat: Catalog, today: date) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"usd": p.usd, "kind": p.kind, "date": p.date, "age_months": age_months(p.date, today), "region": p.region,
            "devices": p.devices, "system": p.system, "source": p.source, "source_quality": cat.sources[p.source].quality}


def row(a: Accelerator, cat: Catalog, today: date) -> dict[str, Any]:
    """One device as JSON: capacity (installed and usable, with the basis), speed numbers, power (a whole system's where
    it is bought as one), what a card needs of a host box and what a box takes, and its prices with their age."""
    buy = prices_of(a)[0]  # a whole system's price where the part is bought as one (HGX/DGX, quad V100 kit)
    return {
        "id": a.id, "name": a.name, "kind": a.kind, "ecosystem": a.ecosystem, "obtain": a.obtain,
        "memory_bytes": a.memory_bytes, "usable_memory_bytes": a.usable_memory_bytes, "usable_memory_basis": a.usable_memory_basis,
        "mem_bandwidth_gbs": a.mem_bandwidth_gbs, "bf16_tflops": a.bf16_tflops, "fp8_tflops": a.fp8_tflops,
        "fp4_tflops": a.fp4_tflops, "int8_tops": a.int8_tops, "tdp_w": a.tdp_w, "unit": a.purchase_unit,
        "compute_capability": a.compute_capability, "features": list(a.features), "system_power_w": a.system_power_w,
        "width_slots": a.width_slots, "host_gpus": a.host_gpus, "max_card_slots": a.max_card_slots, "cpu_cores": a.cpu_cores,
        "buy": _price(buy, cat, today), "rent": _price(rent_price(a), cat, today),
        "usd_per_usable_gb": round(buy.per_device_usd / (a.usable_memory_bytes / GB), 2) if buy else None,
        "prices": [_price(p, cat, today) for p in a.prices],
        "cites": dict(a.cites),
    }


def listing(cat: Catalog, filters: Filters, today: date) -> list[dict[str, Any]]:
    """`llmhw hardware --format json`: every device passing the filters."""
    return [row(a, cat, today) for a in select(cat, filters)]


def _compute(r: dict[str, Any]) -> str:
    """The device's best dense tensor rate, with its format: what prefill and training speed scale with."""
    # bf16_tflops is the dense 16-bit rate; a device without BF16 (V100, Apple GPUs) computes it in FP16
    half = "BF16" if "bf16" in r["features"] else "FP16"
    for key, label in (("fp4_tflops", "FP4"), ("fp8_tflops", "FP8"), ("bf16_tflops", half), ("int8_tops", "INT8")):
        if r[key]:
            return f"{r[key]:,.0f} {label}"
    return "?"


def _offer(r: dict[str, Any]) -> str:
    p = r["buy"] or r["rent"]
    if p is None:
        return "price unknown"
    per = "/h" if p is r["rent"] else (f" for {p['devices']}" + (" (whole system)" if p["system"] else "")
                                       if p["devices"] > 1 else "")
    return f"{usd(p['usd'])}{per} {p['kind']}, {p['date']} ({p['age_months']} mo)"


def listing_text(rows: Sequence[dict[str, Any]]) -> str:
    """`llmhw hardware`: one line per device; memory is what the driver or OS lets a model use (GB = 1e9 bytes)."""
    head = f"{'id':<30}{'kind':<8}{'ecosystem':<10}{'usable GB':>10}{'GB/s':>7}{'dense TFLOPS':>13}{'USD/GB':>8}  price"
    lines = [head]
    for r in rows:
        per_gb = f"{r['usd_per_usable_gb']:,.0f}" if r["usd_per_usable_gb"] is not None else "-"
        lines.append(f"{r['id']:<30}{r['kind']:<8}{r['ecosystem']:<10}{r['usable_memory_bytes'] / GB:>10,.1f}"
                     f"{r['mem_bandwidth_gbs']:>7,.0f}{_compute(r):>13}{per_gb:>8}  {_offer(r)}")
    return "\n".join(lines) + f"\n{len(rows)} devices\n"


def stale_prices(cat: Catalog, today: date, max_age_months: int) -> list[dict[str, Any]]:
    """The prices a cost is built on (each device's buy price and rent price) that are older than ``max_age_months``,
    oldest first: the ones to re-check. A superseded older price (a launch MSRP after a newer used price) is history, not stale.
    """
    used = [(a, p) for a in cat.accelerators.values() for p in (a.buy_price, rent_price(a)) if p is not None]
    found = [(a, p, age_months(p.date, today)) for a, p in used]
    stale = sorted(((a, p, age) for a, p, age in found if age > max_age_months), key=lambda t: (-t[2], t[0].id, t[1].kind))
    return [{"id": a.id, "kind": p.kind, "date": p.date, "age_months": age, "usd": p.usd, "source": p.source} for a, p, age in stale]


def stale_text(stale: Sequence[dict[str, Any]], max_age_months: int) -> str:
    lines = [f"{len(stale)} prices older than {max_age_months} months (policy price-max-age-months):"]
    lines += [f"  {r['id']:<30}{r['kind']:<16}{r['date']:<11}{r['age_months']:>4} mo  {usd(r['usd'])}  ({r['source']})" for r in stale]
    return "\n".join(lines) + "\n"
