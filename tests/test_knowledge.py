"""The knowledge base loads, resolves names, and rejects broken files with file, entry and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from llmhw.errors import InputError, KnowledgeError
from llmhw.knowledge.loader import load_catalog

REQUIRED_MODELS = [
    "deepseek-r1:1.5b", "deepseek-r1:7b", "deepseek-r1:8b", "deepseek-r1:14b", "deepseek-r1:32b", "deepseek-r1:70b",
    "deepseek-r1:671b", "llama3.1:8b", "llama3.1:70b", "llama3.1:405b", "qwen2.5:7b", "qwen2.5:14b", "qwen2.5:32b",
    "qwen2.5:72b", "qwen3:30b-a3b", "qwen3:235b-a22b", "mixtral:8x7b", "gpt-oss:20b", "gpt-oss:120b", "gemma3:27b",
    "mistral:7b", "phi4",
]


def test_catalog_sizes(catalog):
    assert len(catalog.models) >= 22
    assert len(catalog.accelerators) >= 100
    kinds = {a.kind for a in catalog.accelerators.values()}
    assert kinds == {"gpu", "tpu", "npu", "unified", "cpu"}
    for pid in ["bf16", "fp16", "fp8", "int8", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k", "awq-int4", "gptq-int4", "nvfp4", "mxfp4"]:
        assert pid in catalog.precisions


@pytest.mark.parametrize("name", REQUIRED_MODELS)
def test_required_models_resolve_from_ollama_tags(catalog, name):
    model = catalog.model(name)
    assert model.params >= model.active_params > 0


@pytest.mark.parametrize(
    "name, expected",
    [
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "deepseek-r1-distill-qwen-7b"),
        ("DEEPSEEK-R1:7B", "deepseek-r1-distill-qwen-7b"),
        ("DeepSeek-R1-Distill-Llama-70B", "deepseek-r1-distill-llama-70b"),
        ("A100 80GB", "a100-80gb-sxm"),
        ("h100", "h100-sxm"),
    ],
)
def test_names_resolve_case_insensitively(catalog, name, expected):
    kind = "hardware" if expected.startswith(("a100", "h100")) else "model"
    assert catalog.resolve(kind, name, kind) == expected


def test_unknown_model_suggests_nearest_names(catalog):
    with pytest.raises(InputError) as err:
        catalog.model("deepseek-r1:7")
    assert str(err.value).startswith("model: unknown model 'deepseek-r1:7'; did you mean")
    assert "deepseek-r1-distill-qwen-7b" in str(err.value)


def test_every_number_has_a_source(catalog):
    for field in ("models", "accelerators", "precisions", "runtimes", "policy_entries"):
        for entry in getattr(catalog, field).values():
            assert entry.sources, f"{field}: {entry.id} has no source"


# The buyable devices with no public purchase price in the stored sources, each with why (issue 13). A new buyable device
# without a dated buy price (or a cloud-only one without a rent price) fails the test below until it is priced or listed here.
UNPRICED = {
    "a10": "sold to businesses inside OEM servers; no dated card price in the stored sources (searched 2026-12: pages, docs, "
           "code price tables and GPU price trackers list only its 0.75-1.01 USD/h rentals)",
    "mi355x": "sold only as 8-GPU liquid-cooled OEM platforms whose quotes are not public (searched 2026-12: only rentals and "
              "relative claims such as '2.75 times cheaper per GPU than the B300'); rented at Vultr for 2.59 USD per GPU-hour",
    "npu-amd-ryzen-ai-300": "a chip in many laptops; no named Ryzen AI 9 HX 370 laptop with a dated USD price found (searched "
                            "2026-12: Zenbook S 16 UM5606 reviews and launch coverage give no price in the stored text)",
    "cpu-workstation-trpro-7985wx": "no dated USD list or street price of the 7985WX CPU found (searched 2026-12: pages, docs, "
                                    "CPU price datasets, PCPartPicker dumps); the 7975WX boxes are priced",
    "apple-m3-max-48gb": "no launch price of a 48 GB M3 Max MacBook Pro found (searched 2026-12: pages, code; launch coverage "
                         "and reviews quote only the 36 GB base models at 3,199/3,499 USD and the 128 GB / 8 TB build at 7,199)",
    "apple-m3-max-64gb": "no launch price of a 64 GB M3 Max MacBook Pro found (searched 2026-12: the one quote, 4,998 USD, "
                         "includes 2 TB and three years of AppleCare+, whose prices are not in the stored sources)",
    "apple-m3-max-96gb": "no launch price of a 96 GB M3 Max MacBook Pro found, nor Apple's 36 to 96 GB upgrade price "
                         "(searched 2026-12: pages, code, Apple refurbished listings)",
    "l20": "sold in China only; no dated price found (searched 2026-12: the export-rule coverage quotes H20 prices, not L20)",
    "h20": "sold in China only, as 8-GPU HGX servers; its January 2024 China distributor prices (Reuters: $12,000-$15,000 "
           "per card, 1.4 million yuan per server) are in its notes, not offered as a purchase a buyer elsewhere can make",
    "mi210": "sold to businesses inside OEM servers; no dated card price found (searched 2026-12: pages and code give specs "
             "and cluster use only)",
    "gh200": "sold inside OEM servers of one to four superchips whose prices are not published (searched 2026-12: pages, "
             "docs and code give specs and Lambda's 1x GH200 rent only); rented at Lambda for 2.29 USD per hour",
    "tpu-v7": "no TPU7x rent price in the stored sources (searched 2026-12: the TPU7x docs describe GKE, Compute Engine "
              "and All Capacity reservations; the stored pricing pages give v2-v6e rates only)",
}


def test_every_buyable_device_has_a_dated_buy_price_and_every_rented_one_a_rent_price(catalog):
    missing = set()
    for a in catalog.accelerators.values():
        has = a.buy_price is not None if a.obtain == "buy" else any(p.is_rent for p in a.prices)
        if not has:
            missing.add(a.id)
    assert missing == set(UNPRICED)


def test_usable_memory_is_what_the_driver_reports(catalog):
    assert catalog.accelerator("RTX 4090").usable_memory_bytes == 24564 * 2**20
    assert catalog.accelerator("RTX 3090").usable_memory_bytes == 24576 * 2**20
    assert catalog.accelerator("MI300X").usable_memory_bytes == 206141652992
    assert catalog.accelerator("M2 Max").usable_memory_bytes == 72 * 2**30  # Metal's 75% working set of 96 GiB
    for a in catalog.accelerators.values():
        assert 0 < a.usable_memory_bytes <= a.memory_bytes, a.id


def test_the_newest_buy_price_counts(catalog):
    price = catalog.accelerator("RTX 3090").buy_price
    assert (price.usd, price.kind, price.date) == (750, "used", "2026-05")


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path


GOOD_ACCEL = """schema_version: 1
accelerators:
  - id: my-card
    name: My Card 48GB
    vendor: acme
    kind: gpu
    ecosystem: cuda
    memory_bytes: 48000000000
    usable_memory_bytes: 47000000000
    usable_memory_basis: driver-reported
    mem_bandwidth_gbs: 960
    cites: {memory_bytes: article, usable_memory_bytes: article, mem_bandwidth_gbs: article}
    obtain: buy
    sources: [article]
"""


def test_extra_knowledge_directory_adds_entries(tmp_path):
    cat = load_catalog((str(write(tmp_path, "accelerators.yaml", GOOD_ACCEL)),))
    assert cat.accelerator("my card 48gb").id == "my-card"


@pytest.mark.parametrize(
    "text, message",
    [
        (GOOD_ACCEL.replace("memory_bytes: 48000000000", "memory_bytes: eighty"),
         "accelerators.yaml: accelerator #1 'my-card', key 'memory_bytes': expected an integer, got 'eighty'"),
        (GOOD_ACCEL.replace("memory_bytes", "memroy_bytes"),
         "accelerators.yaml: accelerator #1 'my-card', key 'memroy_bytes': unknown key (did you mean 'memory_bytes'?)"),
        (GOOD_ACCEL.replace("kind: gpu", "kind: fpga"),
         "accelerators.yaml: accelerator #1 'my-card', key 'kind': expected one of cpu, gpu, npu, tpu, unified; got 'fpga'"),
        (GOOD_ACCEL.replace("    sources: [article]\n", ""),
         "accelerators.yaml: accelerator 'my-card', key 'sources': at least one source is required"),
        (GOOD_ACCEL.replace("id: my-card", "id: h100-sxm"), "accelerators.yaml: accelerator 'h100-sxm': duplicate id"),
        (GOOD_ACCEL.replace("    obtain: buy\n", "    bf16_tflops: 100\n    obtain: buy\n"),
         "accelerators.yaml: accelerator 'my-card', key 'bf16_tflops': a number without a source (add it to cites)"),
        (GOOD_ACCEL.replace("usable_memory_bytes: 47000000000", "usable_memory_bytes: 49000000000"),
         "accelerators.yaml: accelerator 'my-card', key 'usable_memory_bytes': expected at most memory_bytes (48,000,000,000), got 49,000,000,000"),
        (GOOD_ACCEL.replace("mem_bandwidth_gbs: article}", "mem_bandwidth_gbs: nowhere}"),
         "accelerators.yaml: accelerator 'my-card', key 'cites': unknown source 'nowhere' for mem_bandwidth_gbs"),
        (GOOD_ACCEL.replace("usable_memory_basis: driver-reported", "usable_memory_basis: guess"),
         "key 'usable_memory_basis': expected one of driver-reported, metal-working-set, os-reported, vendor-gib, vram-split; got 'guess'"),
        (GOOD_ACCEL.replace("    obtain: buy\n", "    obtain: buy\n    prices: [{usd: 9, kind: street, date: '2026-01', source: article}]\n"),
         "key 'prices'[0], key 'kind': expected one of cloud-on-demand, cloud-spot, community, msrp, street-new, used; got 'street'"),
        (GOOD_ACCEL.replace("    obtain: buy\n", "    obtain: buy\n    prices: [{usd: 9, kind: used, date: 'last year', source: article}]\n"),
         "key 'prices'[0], key 'date': expected a date YYYY, YYYY-MM or YYYY-MM-DD, got 'last year'"),
        (GOOD_ACCEL.replace("    obtain: buy\n", "    tdp_w: 700\n    unit: 8\n    system_power_w: 5000\n    obtain: buy\n")
         .replace("mem_bandwidth_gbs: article}", "mem_bandwidth_gbs: article, tdp_w: article, unit: article, system_power_w: article}"),
         "key 'system_power_w': expected at least unit x tdp_w (8 x 700 = 5600), got 5000"),
        ("schema_version: 2\naccelerators: []\n", "accelerators.yaml: schema_version: expected 1, got 2"),
        ("a: &x [1]\nb: *x\n", "accelerators.yaml: not valid YAML (line 2): YAML aliases are not allowed"),
    ],
)
def test_broken_knowledge_names_file_entry_and_field(tmp_path, text, message):
    with pytest.raises(KnowledgeError) as err:
        load_catalog((str(write(tmp_path, "accelerators.yaml", text)),))
    assert str(err.value).endswith(message), str(err.value)


def test_every_host_box_names_its_power_supply(catalog):
    boxes = [a for a in catalog.accelerators.values() if a.host_gpus is not None]
    assert len(boxes) >= 13
    assert [a.id for a in boxes if a.host_power_w is None] == []


def test_a_host_box_is_offered_only_when_its_supply_feeds_the_cards():
    import llmhw
    def cost(card: str, count: int) -> dict:
        return llmhw.check({"model": "llama3.1:8b", "scale": "personal"}, card, count=count).to_dict()["cost"]
    # 4 x 350 W beside the EPYC's 1,600 W supply: the sourced hobby rig, priced with its host
    assert (cost("RTX 3090", 4)["host"], cost("RTX 3090", 4)["purchase_usd"]) == (
        "Server-board box EPYC 7252 + ROMED8-2T + 32GB DDR4-3200 8-channel (4 GPUs at PCIe 4.0 x16)", 4 * 750 + 1314)
    # 4 x 600 W beside the 7975WX's 350 W is more than 2,000 W: the workstation with a second 2,000 W supply
    assert cost("RTX PRO 6000", 4)["host"] == (
        "Workstation box Threadripper PRO 7975WX + 512GB DDR5-5600 8-channel, two 2000 W supplies (4 x 600 W cards)")
    # 4 x 575 W: the same 4,000 W workstation (the published 4 x 5090 build)
    four = cost("RTX 5090", 4)
    assert (four["host"], four["host_usd"], four["purchase_usd"]) == (
        "Workstation box Threadripper PRO 7975WX + 512GB DDR5-5600 8-channel, two 2000 W supplies (4 x 600 W cards)",
        10000, 4 * 1999 + 10000)
    # eight PCIe cards: the 4U eight-slot server, not an HGX board
    assert cost("L40S", 8)["host"] == "Server box Supermicro SYS-421GE-TNRT 4U, 2x Xeon + 1TB DDR5-4800 16-channel (8 double-width PCIe GPUs)"
    # more cards than a node holds: two nodes of five, each in its own eight-slot server
    ten = cost("L40S", 10)
    assert (ten["host"], ten["hosts"], ten["host_usd"], ten["purchase_usd"]) == (
        "Server box Supermicro SYS-421GE-TNRT 4U, 2x Xeon + 1TB DDR5-4800 16-channel (8 double-width PCIe GPUs)", 2, 2 * 21271,
        10 * 8000 + 2 * 21271)


# Sources whose public address was not found, each with why. Every other source carries a web address, or, being
# llmhw's own work (a derivation, an assumption, a choice, its reference measurement), the project file that holds it:
# a new 'url: see title' fails the test below until its address is found or it is listed here.
_INDEX_ONLY = "known only by its search-index file id; the index does not name the repository, so no public address"
UNLOCATED_SOURCES = {
    "article": "the seed article (shared/seed/article-zh.txt, outside this project); its web page was not found",
    "ollama-api-32b": _INDEX_ONLY, "ollama-ls-notes": _INDEX_ONLY, "ollama-tags-notes": _INDEX_ONLY,
    "ollama-kr-test": _INDEX_ONLY, "phi4-cfg-copy": _INDEX_ONLY,
    "nv-smi-h100": _INDEX_ONLY, "nv-smi-a100-80": _INDEX_ONLY, "nv-smi-b200": _INDEX_ONLY,
    "ot-cloud-notes-tpu": _INDEX_ONLY, "ot-trpro7000-notes": _INDEX_ONLY, "ot-trpro7000-tdp": _INDEX_ONLY,
}
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _has_an_address(url: str) -> bool:
    """One or more web addresses (' ; '-separated), or a file or folder of this project (llmhw's own work)."""
    web = all(re.fullmatch(r"https?://\S+", part) for part in url.split(" ; "))
    return web or (not url.startswith(("/", ".")) and (PROJECT_ROOT / url).exists())


def test_every_source_names_where_to_read_it(catalog):
    unaddressed = {s.id for s in catalog.sources.values() if not _has_an_address(s.url)}
    assert unaddressed == set(UNLOCATED_SOURCES)
