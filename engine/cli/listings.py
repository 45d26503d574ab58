"""The catalog-listing commands: `llmhw rules`, `llmhw models` (and `models show`), `llmhw hardware`.

Each reads the knowledge base or the rulebase through one API call and hands the result to ``render``;
``commands`` adds them to the `llmhw` group.
"""

from __future__ import annotations

import click

from .options import format_option, knowledge_option


class _SchemaChoice(click.Choice[str]):
    """A choice among names of ``knowledge.schema`` (ecosystems, device kinds), read when click first needs them.

    Click reads the choices to show this command's help or to check a value, never for `llmhw --help`, which so
    stays free of the schema module (a hundred dataclasses, ~15 ms to import).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from ..knowledge import schema

        names: tuple[str, ...] = getattr(schema, self.name)
        return names

    @choices.setter
    def choices(self, _given: tuple[str, ...]) -> None:
        """Click's constructor sets the choices given; these are read from the schema instead."""


@click.command()
@click.argument("rule_id", required=False)
@click.option("--topic", help="Only this topic (module or ID prefix): questions, memory, candidates, recommend, pitfalls, roles, "
                             "quantization, training, parallelism, article; or P1, QNT, ...")
@format_option("text", "json")
def rules(rule_id: str | None, topic: str | None, fmt: str) -> None:
    """List the rules (id, statement, sources), or show one rule in full.

    \b
    Example:
      llmhw rules --topic pitfalls
      llmhw rules P1-oversized-vram
    """
    from .. import api
    from . import render


    entries = api.list_rules(topic=topic, rule_id=rule_id)
    if fmt == "json":
        click.echo(render.to_json({"rules": entries}))
    else:
        click.echo(render.rules_text(entries, full=rule_id is not None), nl=False)


@click.group(invoke_without_command=True)
@knowledge_option()
@format_option("text", "json")
@click.pass_context
def models(ctx: click.Context, knowledge: tuple[str, ...], fmt: str) -> None:
    """List the models the knowledge base knows, with their sizes and aliases; `models show MODEL` details one.

    \b
    Example:
      llmhw models
      llmhw models --format json
      llmhw models show ./Llama-3.2-1B-Instruct
    """
    from .. import api
    from . import render


    if ctx.invoked_subcommand is None:
        entries = api.list_models(knowledge)
        click.echo(render.to_json({"models": entries}) if fmt == "json" else render.catalog_models_text(entries), nl=fmt == "json")


@models.command("show")
@click.argument("model")
@knowledge_option()
@format_option("text", "json")
def models_show(model: str, knowledge: tuple[str, ...], fmt: str) -> None:
    """Show what sizing will use for MODEL and where each number came from.

    MODEL is a catalog name, a model folder, a config.json, a safetensors index or file, a .gguf file or a Hugging Face id.

    \b
    Example:
      llmhw models show qwen3-32b
      llmhw models show ./gemma-3-4b-it/config.json --format json
    """
    from .. import api
    from . import render


    sheet = api.show_model(model, knowledge)
    click.echo(render.to_json(sheet.to_dict()) if fmt == "json" else "\n".join(sheet.lines()))


@click.command()
@knowledge_option()
@click.option("--ecosystem", type=_SchemaChoice("ECOSYSTEMS"), help="Only this software ecosystem.")
@click.option("--kind", type=_SchemaChoice("KINDS"), help="Only this kind of device.")
@click.option("--min-memory", type=click.FloatRange(min=0), metavar="GB", help="At least this much usable memory (GB = 1e9 bytes).")
@click.option("--max-price", type=click.FloatRange(min=0), metavar="USD", help="A buy price of at most this (unpriced devices are left out).")
@click.option("--stale", is_flag=True, help="List the prices older than the policy age instead (price-max-age-months).")
@format_option("text", "json")
def hardware(knowledge: tuple[str, ...], ecosystem: str | None, kind: str | None, min_memory: float | None,
             max_price: float | None, stale: bool, fmt: str) -> None:
    """List the accelerators and hosts: usable memory, bandwidth, dense compute, price per GB, price kind and age.

    \b
    Example:
      llmhw hardware --ecosystem cuda --min-memory 24 --max-price 2000
      llmhw hardware --stale
    """
    from .. import api
    from .. import hardware as hardware_listing
    from . import render

    if stale:
        aged = api.stale_prices(knowledge)
        click.echo(render.to_json(aged) if fmt == "json" else hardware_listing.stale_text(aged["stale"], aged["max_age_months"]), nl=fmt == "json")
        return
    rows = api.list_hardware(knowledge, hardware_listing.Filters(ecosystem, kind, min_memory, max_price))
    click.echo(render.to_json({"hardware": rows}) if fmt == "json" else hardware_listing.listing_text(rows), nl=fmt == "json")
