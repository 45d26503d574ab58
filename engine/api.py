"""The public API: plain data in, plain data out, one exception type for bad input.

``advise(profile)`` ranks configurations for a workload; ``check(profile,
hardware)`` judges one configuration. Both return frozen dataclasses (``results``,
exported here too) whose ``to_dict()`` is exactly what the CLI prints as JSON. Nothing here keeps state
between calls: each thread reuses its own engine (see ``session``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .profile import NONE, Profile, check_model_limits, shown_value
from .results import Advice as Advice
from .results import CheckResult as CheckResult
from .results import Compared as Compared
from .trace.evidence import evidence

# The engine (experta, the rules, the planner), the model readers and the knowledge base load on first use, so that
# `llmhw --help` and the listing commands, which import this module too, pay only for what they run.
if TYPE_CHECKING:
    from . import hardware
    from .knowledge.loader import Catalog
    from .models.sheet import ModelSheet
    from .planner import Option
    from .session import Run

ProfileLike = Profile | Mapping[str, Any]


def catalog(knowledge_dirs: Iterable[str] = ()) -> Catalog:
    """The built-in knowledge base plus any extra directories (validated like the built-in files)."""
    from .knowledge.loader import load_catalog

    return load_catalog(_dirs(knowledge_dirs))


def _with_model(cat: Catalog, name: Any) -> Catalog:
    """``models.with_model``: the catalog, plus the model ``name`` points at when it is not a catalog name.

    A catalog name (most consultations) needs none of the model readers (Hub, safetensors, GGUF), so they load only
    for a name that is not one.
    """
    if isinstance(name, str) and name.strip():
        try:
            cat.resolve("model", name, "model")
            return cat
        except InputError:
            pass
    from .models import with_model as read_model

    return read_model(cat, name)


def _dirs(knowledge_dirs: Any) -> tuple[str, ...]:
    """Extra knowledge directories as a tuple of strings (one path on its own is accepted too)."""
    if isinstance(knowledge_dirs, (str, os.PathLike)):
        return (os.fspath(knowledge_dirs),)
    return tuple(os.fspath(d) for d in knowledge_dirs)


def resolve(profile: ProfileLike, cat: Catalog) -> dict[str, Any]:
    """Check a profile and turn names into catalog ids; raises InputError naming the field."""
    answers = Profile.from_mapping(profile).answers()
    if "model" in answers:
        answers["model"] = cat.resolve("model", answers["model"], "model")
    if answers.get("precision", "auto").lower() != "auto":
        answers["precision"] = cat.resolve("precision", answers["precision"], "precision")
    elif "precision" in answers:
        answers["precision"] = "auto"
    if "model" not in answers:
        raise InputError("model", "required; `llmhw models` lists the models")
    if answers.get("host"):
        from .planner import offload

        answers["host"] = offload.host_id(cat, answers["host"])
    check_model_limits(answers, cat.models[answers["model"]])
    return answers


def _items(result: Run, kind: type) -> tuple[Mapping[str, Any], ...]:
    out = []
    for f in result.of(kind):
        item = {k: v for k, v in f.as_dict().items() if not str(k).startswith("__")}
        out.append({k: _plain(v) for k, v in sorted(item.items())})
    return tuple(sorted(out, key=lambda i: (str(i.get("id")), str(i.get("message")))))


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    return value


def _profile(answers: Mapping[str, Any], defaults: Mapping[str, Any], cat: Catalog) -> dict[str, Any]:
    merged = {**answers, **defaults}
    out = {k: (None if v == NONE else v) for k, v in sorted(merged.items())}
    out["model_name"] = cat.models[str(out["model"])].name
    return out


def _recommendation(fact: Any, option: Option, cat: Catalog, launches: Mapping[str, Any]) -> dict[str, Any]:
    accel = cat.accelerators[option.hardware]
    return {**option.as_dict(), "tier": fact["tier"], "hardware": accel.id, "hardware_name": accel.name, "because": fact["because"],
            "launch": launches.get(fact["tier"])}


def _launches(result: Run) -> dict[str, Any]:
    """The launch plan of each tier (or of the proposal, as "proposed"), as plain data."""
    from . import facts as F
    from .trace.events import plain

    return {f["tier"]: plain(f["plan"]) for f in result.of(F.Launch)}


def advise(profile: ProfileLike, knowledge_dirs: Iterable[str] = (), have: str | None = None,
           have_count: int | None = None) -> Advice:
    """Rank hardware configurations for a workload and explain them.

    :param profile: a ``Profile`` or a mapping with the CLI's fields (model, task, context, ...).
    :param knowledge_dirs: extra knowledge directories (private hardware, in-house models).
    :param have: hardware the user owns (an accelerator name, or ``this`` for what ``detect`` finds here): the answer
        then says what it runs and what to add (``Advice.upgrade``).
    :param have_count: how many of ``have`` (default 1, or as many as this machine has).
    :raises InputError: a field is missing, unknown or out of range.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.3.0 ``have`` and ``have_count``.
    """
    from . import facts as F
    from .planner import TIERS
    from .session import run_with_defaults

    knowledge_dirs = _dirs(knowledge_dirs)
    cat = _with_model(catalog(knowledge_dirs), Profile.from_mapping(profile).model)
    answers = resolve(profile, cat)
    owned = _owned(have, have_count, answers, cat)
    result, defaults = run_with_defaults(cat, answers, owned=owned)
    recs = sorted(result.of(F.Recommendation), key=lambda f: TIERS.index(f["tier"]))
    need = result.of(F.MemoryNeed)
    launches = _launches(result)
    return Advice(
        profile=_profile(answers, defaults, cat), defaults_used=dict(sorted(defaults.items())),
        memory_need={k: v for k, v in need[0].as_dict().items() if not str(k).startswith("__")} if need else {},
        recommendations=tuple(_recommendation(f, result.options[f["id"]], cat, launches) for f in recs),
        warnings=_items(result, F.Warning), tips=_items(result, F.Tip), notes=_items(result, F.Note),
        candidates=len(result.of(F.Candidate)), trace=tuple(result.events),
        # what the user owns is not among the inputs a trace replays, so an upgrade answer carries no evidence to write
        evidence=None if owned is not None else evidence("recommend", profile, knowledge_dirs, cat, result.facts, result.events),
        compared=Compared(tuple(result.options[f["id"]] for f in result.of(F.Candidate)), cat),
        upgrade=_upgrade(owned, result, cat) if owned is not None else None,
    )


UPGRADE_ORDER = ("owned", "choice", "addition", "rent")  # what is owned, the answer, the alternatives, renting


def _owned(have: str | None, count: Any, answers: Mapping[str, Any], cat: Catalog) -> dict[str, Any] | None:
    """The Owned fact of ``have``/``have_count``: a catalog accelerator and count, ``none`` (a machine without GPU), or
    ``this`` machine's GPUs (with none, its CPU and RAM); the host's RAM from ``ram_gb`` when given, else what ``detect``
    reads here."""
    if have is None:
        if count is not None:
            raise InputError("have_count", "counts the hardware you have: give have (--have NAME or this) too")
        return None
    most = cat.policy.max_check_devices
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= most):
        raise InputError("have_count", f"expected a whole number from 1 to {most:,}, got {shown_value(count)}")
    ram = answers.get("ram_gb")
    ram_bytes = int(ram * 1e9) if isinstance(ram, (int, float)) else None
    if isinstance(have, str) and have.strip().lower() == "this":
        from . import machine

        found = machine.detect(cat)
        cpu = found.cpu.model if found.cpu else ""
        ram_bytes = ram_bytes if ram_bytes is not None else found.ram_total_bytes
        if not found.gpus:
            return {"hardware": "none", "kind": "none", "count": 0, "ram_bytes": ram_bytes, "cpu": cpu, "source": "this machine"}
        hw, n = machine.this_hardware(found)
        return {"hardware": hw, "kind": cat.accelerators[hw].kind, "count": n if count is None else count, "ram_bytes": ram_bytes,
                "cpu": cpu, "source": "this machine"}
    if isinstance(have, str) and have.strip().lower() == "none":  # a machine with no GPU: its RAM from ram_gb
        return {"hardware": "none", "kind": "none", "count": 0, "ram_bytes": ram_bytes, "cpu": "", "source": "named"}
    accel = cat.accelerator(have, "have")
    return {"hardware": accel.id, "kind": accel.kind, "count": 1 if count is None else count, "ram_bytes": ram_bytes, "cpu": "",
            "source": "named"}


def _upgrade(owned: Mapping[str, Any], result: Run, cat: Catalog) -> dict[str, Any]:
    """The upgrade answer: what is owned, then the UPG conclusions (owned, choice, additions by cost, renting)."""
    from . import facts as F

    items = sorted(_items(result, F.Upgrade), key=lambda u: (UPGRADE_ORDER.index(str(u["kind"])), u.get("cost_usd") is None,
                                                             u.get("cost_usd") or 0.0, str(u["id"])))
    name = cat.accelerators[owned["hardware"]].name if owned["hardware"] in cat.accelerators else "no GPU"
    return {"have": {**owned, "hardware_name": name}, "answers": list(items)}


def check(profile: ProfileLike, hardware: str, count: int = 1, knowledge_dirs: Iterable[str] = ()) -> CheckResult:
    """Judge one configuration: does the workload fit, how fast, at what cost, with which pitfalls.

    :param hardware: an accelerator name, id or alias (``llmhw hardware`` lists them).
    :param count: how many of them.
    :raises InputError: a field is missing, unknown or out of range.

    .. versionadded:: 0.1.0
    """
    from . import facts as F
    from .session import run_with_defaults

    knowledge_dirs = _dirs(knowledge_dirs)
    cat = _with_model(catalog(knowledge_dirs), Profile.from_mapping(profile).model)
    answers = resolve(profile, cat)
    most = cat.policy.max_check_devices
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= most:
        raise InputError("count", f"expected a whole number from 1 to {most:,}, got {shown_value(count)}")
    accel = cat.accelerator(hardware)
    if count < accel.min_devices:  # a TPU v5p is rented as a slice of at least 4 chips (accelerators.yaml)
        raise InputError("count", f"expected at least {accel.min_devices} for {accel.name}, the smallest unit sold; got {count}")
    result, defaults = run_with_defaults(cat, answers, (accel.id, count))
    fits = result.of(F.Fit)
    configuration: dict[str, Any] = result.options[fits[0]["id"]].as_dict() if fits else {"fits": False}
    configuration["launch"] = _launches(result).get("proposed")  # a configuration that does not fit has nothing to launch
    return CheckResult(
        profile=_profile(answers, defaults, cat), defaults_used=dict(sorted(defaults.items())), hardware=accel.id,
        count=count, configuration=configuration, warnings=_items(result, F.Warning), tips=_items(result, F.Tip),
        notes=_items(result, F.Note), trace=tuple(result.events),
        evidence=evidence("check", profile, knowledge_dirs, cat, result.facts, result.events, (accel.id, count)),
    )


def list_rules(topic: str | None = None, rule_id: str | None = None) -> list[dict[str, Any]]:
    """The rulebase as data: id, topic, status, statement, sources (with titles), docs and where it is defined.

    :param topic: keep the rules of one topic module (``pitfalls``) or ID prefix (``P1``, ``QNT``).
    :param rule_id: one rule by its ID.
    :raises InputError: the topic or ID matches no rule.

    .. versionadded:: 0.1.0
    """
    rules = _rulebase()
    sources = catalog().sources
    picked = [m for m in rules if (topic is None or topic.lower() in (m["topic"], m["id"].split("-", 1)[0].lower()))
              and (rule_id is None or m["id"].lower() == rule_id.lower())]
    if not picked:
        field, value = ("rule", rule_id) if rule_id else ("--topic", topic)
        choices = sorted({m["topic"] for m in rules} | {m["id"].split("-", 1)[0] for m in rules}) if not rule_id else []
        hint = f"; expected one of {', '.join(choices)}" if choices else "; `llmhw rules` lists them"
        raise InputError(field, f"no rule matches {value!r}{hint}")
    return [
        {"id": m["id"], "topic": m["topic"], "status": m["status"], "since": m["since"], "statement": m["statement"],
         "needs": list(m["needs"]), "sources": [{"id": s, "title": sources[s].title, "url": sources[s].url} for s in m["sources"]],
         "doc": m["doc"], "source_location": {"file": m["location"][0], "line": m["location"][1]}}
        for m in picked
    ]


# The modules a rule's description comes from besides rules/*.py: the engine class, the slot table the question
# rules are generated from, the fact types.
RULEBASE_CODE = ("session.py", "profile.py", "facts.py")


@cache
def _rulebase() -> list[dict[str, Any]]:
    """Every rule's description (``RuleMeta``'s fields), in id order.

    Read from a snapshot keyed by the bytes of the code that defines the rules (``knowledge.snapshot``): `llmhw rules`
    then imports neither experta nor the rule modules. Without one, the rulebase is loaded and the snapshot written.
    """
    import hashlib
    import importlib.util
    from pathlib import Path

    from .knowledge import snapshot

    spec = importlib.util.find_spec(f"{__package__}.rules")
    rules_dir = Path(next(iter(spec.submodule_search_locations or ()))) if spec else None
    engine_dir = Path(__file__).resolve().parent
    if rules_dir is None:
        return _described()
    files = [(rules_dir, sorted(rules_dir.glob("*.py"))), (engine_dir, [engine_dir / name for name in RULEBASE_CODE])]
    key = snapshot.key([(str(d), [(f.name, hashlib.sha256(f.read_bytes()).hexdigest()) for f in fs]) for d, fs in files])
    saved = snapshot.read(key, "rules")
    if isinstance(saved, list):
        return saved
    described = _described()
    snapshot.write(key, described, "rules")
    return described


def _described() -> list[dict[str, Any]]:
    from dataclasses import asdict

    from .session import RULES

    return [asdict(m) for m in RULES]


def list_models(knowledge_dirs: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The models of the knowledge base, by family and size, with the numbers sizing uses and their aliases.

    .. versionadded:: 0.1.0
    """
    models = sorted(catalog(knowledge_dirs).models.values(), key=lambda m: (m.family, m.params, m.id))
    return [{"id": m.id, "name": m.name, "family": m.family, "params": m.params, "active_params": m.active_params,
             "native_precision": m.native_precision, "max_context": m.max_context, "aliases": list(m.aliases)} for m in models]


def show_model(model: str, knowledge_dirs: Iterable[str] = ()) -> ModelSheet:
    """What sizing will use for a model (a catalog name, a model folder, config.json, safetensors, .gguf file or Hub id),
    and where each number came from.

    :raises InputError: an unknown name, or files that cannot be sized (the message names the file and key).

    .. versionadded:: 0.2.0
    """
    from .models.sheet import describe

    cat = _with_model(catalog(knowledge_dirs), model)
    return describe(cat, cat.resolve("model", model, "model"))


def list_hardware(knowledge_dirs: Iterable[str] = (), filters: hardware.Filters | None = None) -> list[dict[str, Any]]:
    """The accelerators and hosts of the knowledge base passing ``filters``, by ecosystem and usable memory, with their
    prices and ages.

    .. versionadded:: 0.1.0
    """
    from . import hardware

    return hardware.listing(catalog(knowledge_dirs), filters or hardware.Filters(), hardware.today())


def stale_prices(knowledge_dirs: Iterable[str] = ()) -> dict[str, Any]:
    """The prices costs are built on that are older than the policy's ``price-max-age-months``, oldest first.

    .. versionadded:: 0.2.0
    """
    from . import hardware

    cat = catalog(knowledge_dirs)
    age = cat.policy.price_max_age_months
    return {"max_age_months": age, "stale": hardware.stale_prices(cat, hardware.today(), age)}
