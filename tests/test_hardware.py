"""`llmhw hardware`: filters, usable memory, price kind and age, and the stale-price list, as a user sees them."""

from __future__ import annotations

import json
from datetime import date

import pytest
from llmhw import hardware
from llmhw.cli import main

TODAY = date(2026, 12, 1)


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch):
    """Price ages are counted to a fixed day, so the printed lines stay exact."""
    monkeypatch.setattr(hardware, "today", lambda: TODAY)


def lines(runner, *args):
    result = runner.invoke(main, ["hardware", *args])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_filters_pick_the_cheap_24gb_cuda_cards(runner):
    assert lines(runner, "--ecosystem", "cuda", "--kind", "gpu", "--min-memory", "20", "--max-price", "1000") == [
        "id                            kind    ecosystem  usable GB   GB/s dense TFLOPS  USD/GB  price",
        "rtx-3090                      gpu     cuda            25.8    936      71 BF16      29  750 USD used, 2026-05 (7 mo)",
        "tesla-p40                     gpu     cuda            25.8    347      47 INT8      11  295 USD used, 2026-06 (6 mo)",
        "v100-sxm2-32gb                gpu     cuda            34.4    900     125 FP16      15  2,088 USD for 4 used, 2026 (11 mo)",
        "3 devices",
    ]


def test_rocm_listing_shows_system_and_rent_prices(runner):
    out = lines(runner, "--ecosystem", "rocm")
    assert ("mi300x                        gpu     rocm           206.1  5,300    2,615 FP8      93  "
            "153,846 USD for 8 (whole system) street-new, 2026 (11 mo)") in out
    assert "mi325x                        gpu     rocm           274.9  6,000    2,615 FP8       -  1.95 USD/h cloud-on-demand, 2026-05 (7 mo)" in out
    assert "mi355x                        gpu     rocm           309.2  8,000    5,000 FP8       -  2.59 USD/h cloud-on-demand, 2026-07 (5 mo)" in out
    assert out[-1] == "16 devices"


def test_a_device_with_no_price_is_listed_as_price_unknown(runner):
    out = lines(runner, "--ecosystem", "npu")
    assert "npu-amd-ryzen-ai-300          npu     npu             17.2    120      50 INT8       -  price unknown" in out


def test_a_filter_nothing_passes_says_so(runner):
    assert lines(runner, "--kind", "tpu", "--max-price", "10") == [lines(runner)[0], "0 devices"]


def test_bad_filter_is_a_one_line_error(runner):
    result = runner.invoke(main, ["hardware", "--ecosystem", "cuba"])
    assert result.exit_code == 2
    assert "Invalid value for '--ecosystem'" in result.output and "Traceback" not in result.output


def test_json_lists_usable_memory_with_its_basis_for_every_device(runner):
    result = runner.invoke(main, ["hardware", "--format", "json"])
    rows = json.loads(result.output)["hardware"]
    assert len(rows) >= 80
    by_id = {r["id"]: r for r in rows}
    assert by_id["rtx-4090"]["usable_memory_bytes"] == 24564 * 2**20  # nvidia-smi's 24,564 MiB, not 24e9
    assert by_id["h100-sxm"]["usable_memory_bytes"] == 81559 * 2**20
    assert by_id["rtx-4090"]["usable_memory_basis"] == "driver-reported"
    assert by_id["rtx-3090"]["buy"] == {"usd": 750, "kind": "used", "date": "2026-05", "age_months": 7, "region": "US",
                                        "devices": 1, "system": False, "source": "bestllmfor-dual3090",
                                        "source_quality": "tertiary"}
    assert all(0 < r["usable_memory_bytes"] <= r["memory_bytes"] for r in rows)


def test_stale_lists_only_the_prices_costs_are_built_on(runner):
    out = lines(runner, "--stale")
    assert out[0].endswith("prices older than 12 months (policy price-max-age-months):")
    assert "  rtx-3080-10gb                 msrp            2020-09      75 mo  699 USD  (fz-rtx30)" in out
    assert not any(line.startswith("  rtx-3090 ") for line in out)  # its 2020 MSRP is superseded by a 2026 used price


def test_age_counts_whole_months_and_a_bare_year_from_january():
    assert hardware.age_months("2026-05", TODAY) == 7
    assert hardware.age_months("2026-05-31", TODAY) == 7
    assert hardware.age_months("2025", TODAY) == 23
    assert hardware.age_months("2027-01", TODAY) == 0  # a future date is not negative


def test_stale_prices_is_a_pure_function_of_the_date(catalog):
    now = hardware.stale_prices(catalog, TODAY, 12)
    later = hardware.stale_prices(catalog, date(2030, 1, 1), 12)
    assert {r["id"] for r in now} < {r["id"] for r in later}
    assert all(r["age_months"] > 12 for r in now)


def test_systems_are_listed_at_their_system_price_and_filtered_per_device(runner):
    out = lines(runner, "--ecosystem", "cuda", "--kind", "gpu")
    assert ("h100-sxm                      gpu     cuda            85.5  3,350    1,979 FP8     291  "
            "199,000 USD for 8 (whole system) msrp, 2026 (11 mo)") in out
    assert "v100-sxm2-16gb                gpu     cuda            17.2    900     125 FP16      16  1,100 USD for 4 used, 2026 (11 mo)" in out
    # a quad V100 kit costs 275 USD per GPU: it passes a 300 USD ceiling although the kit costs 1,100
    assert any(line.startswith("v100-sxm2-16gb") for line in lines(runner, "--max-price", "300"))


def test_old_cuda_cards_get_llama_cpp_never_vllm_fp8_or_awq():
    import llmhw
    awq = llmhw.check({"model": "llama3.1:8b", "precision": "awq-int4"}, "Tesla P40").to_dict()
    assert not awq["fits"] and awq["runtime"] is None
    assert "No runtime in the catalog runs awq-int4 on NVIDIA Tesla P40 24GB (used)." in [n["message"] for n in awq["notes"]]
    plain = llmhw.check({"model": "llama3.1:8b"}, "V100 32GB", count=4).to_dict()
    assert plain["runtime"] == "llama-cpp"


def test_a_pcie_card_is_priced_with_its_host_and_a_dgx_as_a_whole_server():
    import llmhw
    card = llmhw.check({"model": "llama3.1:8b"}, "RTX 3090").to_dict()["cost"]
    assert card["host"] == "Desktop box Core i5-12400 + 32GB DDR4-3200 dual channel (1 GPU)"
    assert (card["host_usd"], card["purchase_usd"]) == (635, 750 + 635)
    own = llmhw.check({"model": "llama3.1:8b", "cpu_cores": 8, "ram_gb": 32}, "RTX 3090").to_dict()["cost"]
    assert (own["host"], own["purchase_usd"]) == ("", 750)  # the user's own host: the card alone
    # the host box's CPU draws power too (65 W for 8 h a day, a year, at 0.13 USD/kWh), on top of the card's 350 W
    assert card["power_usd_per_year"] == round((350 + 65) * 8 * 365 / 1000 * 0.13, 2)
    dgx = llmhw.check({"model": "llama-3.1-70b", "scale": "team"}, "H100", count=8).to_dict()["cost"]
    assert (dgx["host"], dgx["purchase_usd"]) == ("", 199000)


def test_sxm_parts_are_bought_in_whole_systems_and_rented_per_gpu():
    import llmhw
    from llmhw.planner import device_counts
    from llmhw.planner.options import Workload
    cat = llmhw.api.catalog()
    h100, v100, r3090 = (cat.accelerator(n) for n in ("H100", "V100 32GB", "RTX 3090"))

    def counts(accel, scale, deployment):
        w = Workload(model="llama-3.1-70b", task="inference", precision="auto", context=8192, concurrency=1, batch=1,
                     activation_checkpointing=None, lora_rank=16, budget=None, ecosystem="any", deployment=deployment,
                     scale=scale, hours_per_day=8, cpu_cores=None, ram_gb=None)
        return device_counts(w, accel, cat)
    assert counts(h100, "team", "local") == [8] and counts(h100, "team", "cloud") == [1, 2, 4, 8]
    assert counts(h100, "personal", "local") == []
    assert counts(v100, "personal", "local") == [4]  # a quad SXM2 carrier board
    assert counts(r3090, "personal", "local") == [1, 2, 4]  # up to four consumer cards in one box


def test_the_host_box_follows_the_card_count_and_the_weights_in_ram():
    import llmhw
    four = llmhw.check({"model": "llama-3.1-70b", "precision": "q8_0"}, "RTX 3090", count=4).to_dict()["cost"]
    # four cards at x16 with RAM for 75 GB of Q8_0 weights: the hobby rig's EPYC server board (32 GB would not hold them)
    assert four["host"] == "Server-board box EPYC 7252 + ROMED8-2T + 256GB DDR4 8-channel (4 GPUs at PCIe 4.0 x16)"
    assert four["purchase_usd"] == 4 * 750 + 1564
    two = llmhw.check({"model": "llama-3.1-70b", "precision": "q4_k_m"}, "RTX 3090", count=2).to_dict()["cost"]
    # two cards and 43 GB + 8 GB of RAM: the budget AM4 box of the dual-3090 rig
    assert two["host"] == "Desktop box Ryzen 7 5700X + 64GB DDR4-3600 dual channel (budget build for 2 GPUs)"
    assert two["purchase_usd"] == 2 * 750 + 900
    eight = llmhw.check({"model": "llama-3.1-70b", "scale": "team"}, "L40S", count=8).to_dict()["cost"]
    # eight cards: the 4U eight-slot PCIe server (Newegg's eight-L40S configuration less the cards)
    assert (eight["host"], eight["host_usd"]) == (
        "Server box Supermicro SYS-421GE-TNRT 4U, 2x Xeon + 1TB DDR5-4800 16-channel (8 double-width PCIe GPUs)", 21271)


def test_buy_versus_rent_counts_the_whole_box_and_the_hours_and_names_the_rent_price():
    import llmhw

    def tip(hours: int) -> str:
        got = llmhw.check({"model": "llama-3.1-70b", "precision": "q4_k_m", "hours_per_day": hours}, "RTX 3090", 2).to_dict()
        return next(t["message"] for t in got["tips"] if t["id"] == "BUD-buy-vs-rent")

    # two used cards at 750 and the 900 USD box they need, against 2 x 0.39 USD/h; (2 x 350 W + 65 W) x 0.13 USD/kWh
    assert tip(8) == ("Buying 2 x NVIDIA GeForce RTX 3090 24GB (2,400 USD incl. a 900 USD host box + power) breaks even "
                      "with renting them at 0.78 USD/h (cloud-on-demand price of 2026-03, deploybase-runpod) after 14 months "
                      "at 8 h/day: buying pays off.")
    assert "after 5 months at 24 h/day" in tip(24)
