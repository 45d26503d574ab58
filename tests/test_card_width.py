"""Card width: a host box is offered only for cards it physically takes (issue 13, P2 host facts).

A 4U server built for eight double-width passive cards has no room for eight 3-slot consumer cards; an open frame on
riser cables takes any width. Each PCIe card states its width and each host box the widest card it takes.
"""

from __future__ import annotations

import json
from pathlib import Path

from llmhw.cli import main

FRAME = "Server-board box EPYC 7252 + ROMED8-2T + 256GB DDR4 8-channel (4 GPUs at PCIe 4.0 x16)"
WORKSTATION = "Workstation box Threadripper PRO 7975WX + 512GB DDR5-5600 8-channel, two 2000 W supplies (4 x 600 W cards)"
SERVER = "Server box Supermicro SYS-421GE-TNRT 4U, 2x Xeon + 1TB DDR5-4800 16-channel (8 double-width PCIe GPUs)"
GOLDEN = Path(__file__).parent / "golden"


def check_cost(runner, card: str, count: int) -> dict:
    result = runner.invoke(main, ["check", "--model", "llama-3.1-70b", "--hardware", card, "--count", str(count),
                                  "--precision", "q8_0", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["cost"]


def test_eight_rtx_3090_get_no_server_built_for_double_width_cards(runner):
    # RTX 3090 reference boards are 3 slots wide; the 8-GPU server takes double-width cards: eight of them run as two
    # nodes of four (a consumer card's node), each in an open frame on risers (8 x 750 USD + 2 x 1,564 USD)
    cost = check_cost(runner, "RTX 3090", 8)
    assert (cost["host"], cost["hosts"], cost["host_usd"], cost["purchase_usd"]) == (FRAME, 2, 2 * 1564, 6000 + 2 * 1564)


def test_eight_dual_slot_cards_still_get_the_eight_gpu_server(runner):
    cost = check_cost(runner, "A100 PCIe 80GB", 8)
    assert (cost["host"], cost["hosts"], cost["host_usd"], cost["purchase_usd"]) == (SERVER, 1, 21271, 8 * 8000 + 21271)


def test_cards_over_two_nodes_buy_a_box_for_each(runner):
    # a node holds four RTX PRO 6000 Workstation cards (its max_devices): eight run as two nodes, and two 4-card
    # Threadripper boxes (10,000 USD each) cost less than one 8-GPU server
    cost = check_cost(runner, "RTX PRO 6000", 8)
    assert (cost["host"], cost["hosts"], cost["host_usd"], cost["purchase_usd"]) == (WORKSTATION, 2, 20000, 8 * 8565 + 20000)


def test_four_triple_slot_cards_skip_the_double_width_workstation(runner):
    # four 3-slot RTX 4090s do not fit the Threadripper's four double-width places, and 4 x 450 W is more than the open
    # EPYC frame's 1,600 W supply feeds: no box is priced for them
    assert check_cost(runner, "RTX 4090", 4)["host"] == "not priced"
    # four 3-slot RTX 3090s fit the open frame on risers, whose supply feeds them
    assert check_cost(runner, "RTX 3090", 4)["host"].startswith("Server-board box EPYC 7252 + ROMED8-2T")


def test_every_pcie_card_states_its_width_and_every_host_box_its_widest_card(catalog):
    cards = [a for a in catalog.accelerators.values() if a.kind == "gpu" and a.interconnect == "pcie"]
    assert len(cards) >= 40
    assert [a.id for a in cards if a.width_slots is None or "width_slots" not in a.cites] == []
    boxes = [a for a in catalog.accelerators.values() if a.host_gpus is not None]
    assert len(boxes) >= 13
    # an open frame (None) states it too: its cite says where the box is read as one
    assert [a.id for a in boxes if "max_card_slots" not in a.cites] == []
    assert {a.max_card_slots for a in boxes} == {None, 2, 3}


def test_no_golden_answer_puts_a_card_in_a_box_too_narrow_for_it(catalog):
    boxes = {a.name: a for a in catalog.accelerators.values() if a.host_gpus is not None}
    seen = 0
    for path in GOLDEN.glob("*.json"):
        answer = json.loads(path.read_text())
        for rec in answer.get("recommendations") or ([answer] if "cost" in answer else []):
            box = boxes.get(rec["cost"].get("host", ""))
            if box is not None:
                seen += 1
                cards = -(-rec["count"] // rec["cost"].get("hosts", 1))  # one box per node
                assert box.takes(catalog.accelerators[rec["hardware"]], cards), (path.name, rec["hardware"])
    assert seen >= 50
