"""Message templates: unit specs show raw numbers one way, a missing binding is a bug, statements stay lenient."""

from __future__ import annotations

import pytest
from llmhw.units import Phrase, render, render_lenient


def test_unit_specs_show_raw_numbers():
    values = {"need_bytes": 88.5e9, "claim_bytes": 64e9, "saving_usd": 11221.4, "used": 0.54, "tokens_per_s": 36.7,
              "params": 70.6e9, "sata_s": 1253, "link_gbs": None, "gain": 1.234}
    template = "{need_bytes:gb} {claim_bytes:gb0} {saving_usd:usd} {used:pct} {tokens_per_s:rate} {params:params} {sata_s:min} " \
               "{link_gbs:known} GB/s {gain:.2f}x"
    assert render(template, values) == "88.5 GB 64 GB 11,221 USD 54% 36.7 tok/s 70.6 B 20.9 min ? GB/s 1.23x"


def test_a_message_field_without_a_binding_is_an_error_and_a_statement_shows_it():
    with pytest.raises(KeyError):
        render("{count} x {hardware}", {"count": 2})
    assert render_lenient("{count} x {hardware:gb}", {"count": 2}) == "2 x {hardware}"


def test_a_phrase_renders_like_text_and_keeps_its_numbers():
    alternative = Phrase("{count} x {hardware} for {cost_usd:usd}", count=2, hardware="L4", cost_usd=4000)
    assert render("GPU alternative: {alternative}.", {"alternative": alternative}) == "GPU alternative: 2 x L4 for 4,000 USD."
    assert alternative.template.startswith("{count}") and alternative.values["cost_usd"] == 4000
