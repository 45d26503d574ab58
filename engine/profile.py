"""The inputs of a consultation: one table of slots, and the ``Profile`` they fill.

The slot table is the single description of every input: its type, accepted
range, default (a policy key), the question the Q&A session asks, its command-line
option, and when it is needed at all. ``Profile``'s fields, the CLI's options
(``llmhw.cli.options``), the question rules and the API's validation all derive
from it: adding an input is one new ``Slot``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from .errors import InputError

TASKS = ("inference", "finetune", "lora", "qlora", "pretrain")
TRAINING_TASKS = ("finetune", "lora", "qlora", "pretrain")
ECOSYSTEMS = ("any", "cuda", "rocm", "apple", "tpu", "npu", "cpu")
DEPLOYMENTS = ("local", "cloud", "edge")
SCALES = ("personal", "team", "enterprise")
OFFLOADS = ("auto", "none", "experts", "layers")  # what may stay in host RAM, computed by the host CPU (hybrid CPU+GPU)
MAX_HOST_BANDWIDTH_GBS = 10_000  # a 2-socket 24-channel DDR5-8800 server peaks near 1,700 GB/s; more is a typo
MAX_CONTEXT = 10_000_000  # no open model reads more than ~10M tokens; larger is a typo
MAX_USERS = 1_000_000
MAX_BUDGET_USD = 1e10
MAX_CORES = 4096
MAX_RAM_GB = 1_000_000
MAX_TRAIN_TOKENS = 10**15  # the largest published pretraining runs read tens of trillions of tokens; more is a typo
NONE = "none"  # the answer to an optional question left empty on purpose (no budget, no host described)


class Slot(NamedTuple):
    """One input: how it is checked, defaulted and asked.

    A named tuple rather than a dataclass: the command line reads the slots to declare its options, and `llmhw --help`
    is ~3 ms (a twentieth) faster without ``dataclasses``.
    """

    name: str
    kind: str  # "choice", "int", "float", "bool", "text"
    question: str
    hint: str
    choices: tuple[str, ...] = ()
    low: float = 0
    high: float = math.inf
    default_key: str | None = None  # policy id; None: no default (the slot stays unset)
    when: tuple[str, tuple[str, ...]] | None = None  # asked only when this other slot has one of these values
    optional: bool = False  # may stay unset (None) after defaults
    option: str = ""  # the command-line option when it is not --<name> ("--on/--off" for a switch)
    unset: str = ""  # what leaving it unset means, for the option's help ("no limit")
    model_limit: str = ""  # the model's field that bounds it ("max_context"): checked once the model is known

    @property
    def flag(self) -> str:
        """The command-line option: ``--context``, ``--ram``, ``--activation-checkpointing/--no-activation-checkpointing``."""
        return self.option or "--" + self.name.replace("_", "-")

    def needed(self, answers: Mapping[str, Any]) -> bool:
        """Whether this input matters, given the other answers."""
        return self.when is None or answers.get(self.when[0]) in self.when[1]


ON_OWN_HOST = ("deployment", ("local", "edge"))
TRAINING = ("task", TRAINING_TASKS)


SLOTS: tuple[Slot, ...] = (
    Slot("model", "text", "Which model?", "a name, ollama tag or Hugging Face id, e.g. deepseek-r1:70b (`llmhw models` lists them), "
         "or a model folder, config.json, .safetensors or .gguf file"),
    Slot("task", "choice", "Run it or train it?", "inference serves answers; finetune/lora/qlora adapt a model; pretrain trains from scratch",
         choices=TASKS, default_key="default-task"),
    Slot("precision", "text", "Which weight precision?", "auto lets the engine choose; or bf16, fp8, int8, q8_0, q4_k_m, awq-int4, ...",
         default_key="default-precision"),
    Slot("context", "int", "How many tokens per sequence (prompt + answer)?",
         "4096 short chat, 8192 chat with history, 32768 documents, 131072 long context",
         low=1, high=MAX_CONTEXT, default_key="default-context", model_limit="max_context"),
    Slot("concurrency", "int", "How many people use it at the same time?", "1 for yourself; the number of simultaneous requests for a service",
         low=1, high=MAX_USERS, default_key="default-concurrency", when=("task", ("inference",))),
    Slot("batch", "int", "Effective batch size per optimizer step (sequences)?",
         "the engine reaches it by gradient accumulation if it does not fit at once",
         low=1, high=MAX_USERS, default_key="default-batch", when=TRAINING),
    Slot("activation_checkpointing", "choice", "Use activation checkpointing?",
         "auto turns it on only where it is needed to fit; on saves memory and costs ~33% more compute",
         choices=("auto", "on", "off"), default_key="default-activation-checkpointing", when=TRAINING,
         option="--activation-checkpointing/--no-activation-checkpointing"),
    Slot("lora_rank", "int", "LoRA rank?", "8-64 is usual; 16 is a good default",
         low=1, high=4096, default_key="default-lora-rank", when=("task", ("lora", "qlora"))),
    Slot("budget", "float", "Budget in USD (purchase, or rental over the planning period)?", "leave empty for no limit",
         low=1, high=MAX_BUDGET_USD, optional=True, unset="no limit"),
    Slot("ecosystem", "choice", "Which ecosystem must it run in?", "any, or the stack you are committed to",
         choices=ECOSYSTEMS, default_key="default-ecosystem"),
    Slot("deployment", "choice", "Where does it run?", "local: hardware you buy; cloud: rented; edge: on a laptop or device",
         choices=DEPLOYMENTS, default_key="default-deployment"),
    Slot("scale", "choice", "At what scale?", "personal: one person; team: a shared server; enterprise: a cluster",
         choices=SCALES, optional=True, unset="from the number of users and the model's size"),
    Slot("hours_per_day", "float", "Hours of use per day?", "sets power cost and the rental hours a purchase is compared with",
         low=0.1, high=24, default_key="default-hours-per-day"),
    Slot("cpu_cores", "int", "CPU cores of the host you have (empty if you are buying one)?", "pitfall P2 checks the host feeds the accelerators",
         low=1, high=MAX_CORES, optional=True, when=ON_OWN_HOST, unset="no host described: the P2 rules size one"),
    Slot("ram_gb", "float", "System RAM of that host, in GB?", "pitfall P2 checks it holds the checkpoint for loading",
         low=0.5, high=MAX_RAM_GB, optional=True, when=ON_OWN_HOST, option="--ram",
         unset="no host described: the P2 rules size one"),
    Slot("offload", "choice", "May part of the model stay in host RAM, computed by the CPU?",
         "auto: a MoE's routed experts, only when the GPUs cannot hold the model; none: never; experts: force that split "
         "(llama.cpp --n-cpu-moe); layers: whole layers of any model (llama.cpp -ngl), read in full by the CPU every token",
         choices=OFFLOADS, default_key="default-offload", when=("task", ("inference",))),
    Slot("host", "text", "Which host box runs the offloaded part (a catalog CPU box, empty to let the engine choose)?",
         "a name from `llmhw hardware --kind cpu`, e.g. \"Xeon 6 6980P 768GB\"; its memory bandwidth sets a hybrid rig's speed",
         optional=True, when=ON_OWN_HOST, unset="the cheapest catalog host box that holds the offloaded part"),
    Slot("host_bandwidth_gbs", "float", "Memory bandwidth of that host, in GB/s (channels x MT/s x 8 B)?",
         "12 x DDR5-6400 = 614.4; 2 x DDR5-5600 = 89.6; describes a host the catalog does not have",
         low=1, high=MAX_HOST_BANDWIDTH_GBS, optional=True, when=ON_OWN_HOST, option="--host-bandwidth",
         unset="the host box's catalog bandwidth"),
    Slot("tokens", "int", "How many tokens to train on (dataset tokens x epochs)?",
         "sets the time and cost of the run: 50000000 for 50M tokens of fine-tuning data", low=1, high=MAX_TRAIN_TOKENS,
         optional=True, when=TRAINING, unset="no time or cost to train shown"),
)
SLOT_BY_NAME = {s.name: s for s in SLOTS}


class Profile:
    """A workload description: one optional value per slot of ``SLOTS`` (the CLI's options), checked when built.

    ``Profile(model="deepseek-r1:7b", context=8192)``; ``profile.context`` reads a field (None when unset).
    Immutable and hashable, like a frozen dataclass.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_values",)
    _values: dict[str, Any]

    def __init__(self, **fields: Any) -> None:
        unknown = sorted(set(fields) - set(SLOT_BY_NAME))
        if unknown:
            raise TypeError(f"Profile() got an unexpected keyword argument {unknown[0]!r}")
        checked = {s.name: check(s.name, fields[s.name]) for s in SLOTS if fields.get(s.name) is not None}
        object.__setattr__(self, "_values", {k: v for k, v in checked.items() if v is not None})

    def __getattr__(self, name: str) -> Any:
        if name in SLOT_BY_NAME:
            return self._values.get(name)
        raise AttributeError(f"'Profile' object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Profile is immutable: build a new one")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Profile) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._values.items())))

    def __repr__(self) -> str:
        return "Profile(" + ", ".join(f"{k}={v!r}" for k, v in self._values.items()) + ")"

    def answers(self) -> dict[str, Any]:
        """The slots that are set, in slot order."""
        return dict(self._values)

    @classmethod
    def from_mapping(cls, data: Any, where: str = "profile") -> Profile:
        """Build and check a profile from a plain mapping (a parsed YAML/JSON file, or API kwargs)."""
        if isinstance(data, Profile):
            return data
        if not isinstance(data, Mapping):
            raise InputError(where, f"expected a mapping of fields, got {type(data).__name__}")
        values: dict[str, Any] = {}
        for key, raw in data.items():
            name = str(key).replace("-", "_")
            if name not in SLOT_BY_NAME:
                import difflib

                near = difflib.get_close_matches(name, list(SLOT_BY_NAME), n=1)
                hint = f"; did you mean '{near[0]}'?" if near else f"; expected one of {', '.join(sorted(SLOT_BY_NAME))}"
                raise InputError(_printable(str(key))[:80], f"unknown field{hint}")
            values[name] = check(name, raw)  # in the mapping's order, so the first bad field is the one named
        return cls(**values)


def _number(slot: Slot, given: Any) -> float:
    raw = given
    if isinstance(raw, bool):
        raise InputError(slot.name, f"expected a number, got {raw!r}")
    if isinstance(raw, str):
        if "," in raw:  # 1,5 is 1.5 in much of Europe and 15 to Python; 1.234,56 is 1234.56 there: refuse, never guess
            raise InputError(slot.name, f"expected a number with no comma, got {raw.strip()[:40]!r}: a comma is a decimal "
                                        "point in some locales and a thousands separator in others; write 1.5 or 1500")
        text = raw.strip().replace("_", "")
        try:
            raw = float(text)
        except ValueError:
            raise InputError(slot.name, f"expected a number, got {raw[:40]!r}") from None
    if not isinstance(raw, (int, float)):
        raise InputError(slot.name, f"expected a number, got {type(raw).__name__}")
    try:
        value = float(raw)
    except OverflowError:  # an int beyond float range (10**400)
        value = math.inf if raw > 0 else -math.inf
    if not math.isfinite(value):
        raise InputError(slot.name, f"expected a finite number, got {shown_value(given)}")
    if not slot.low <= value <= slot.high:
        high = f"{slot.high:,.0f}" if slot.high != math.inf else "inf"
        raise InputError(slot.name, f"expected a number from {slot.low:g} to {high}, got {shown_value(given)}")
    return value


def check_model_limits(answers: Mapping[str, Any], model: Any) -> None:
    """Check the answers a model bounds (context against its ``max_context``); raises ``InputError`` naming the limit."""
    for slot in SLOTS:
        value = answers.get(slot.name)
        if slot.model_limit and isinstance(value, (int, float)) and not isinstance(value, bool):
            limit = getattr(model, slot.model_limit)
            if value > limit:
                raise InputError(slot.name, f"expected at most {limit:,} for {model.name} (its {slot.model_limit}), got {value:,}")


def _printable(text: str) -> str:
    """A name as typed, or its repr when it holds a newline or another control character (an error stays one line)."""
    return text if text.isprintable() else repr(text)


def shown_value(value: Any) -> str:
    """A short repr for an error message (huge ints and long strings are cut, never echoed whole)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**40:
        return f"a {len(str(abs(value))) if abs(value).bit_length() < 13_000 else 'huge'}-digit number"
    text = repr(value)
    return text if len(text) <= 42 else text[:40] + "..."


def check(name: str, raw: Any) -> Any:
    """Check one input against its slot; return it normalised, or None for an explicit empty value."""
    slot = SLOT_BY_NAME[name]
    if raw is None or (isinstance(raw, str) and not raw.strip() and slot.optional):
        return None
    if slot.kind in ("int", "float"):
        number = _number(slot, raw)
        if slot.kind == "int":
            if number != int(number):
                raise InputError(name, f"expected a whole number, got {shown_value(raw)}")
            return int(number)
        return number
    if slot.kind == "choice" and name == "activation_checkpointing" and isinstance(raw, bool):
        return "on" if raw else "off"
    if not isinstance(raw, str):
        raise InputError(name, f"expected text, got {type(raw).__name__}")
    text = raw.strip()
    if not text or len(text) > 200:
        raise InputError(name, f"expected a non-empty name of at most 200 characters, got {raw[:40]!r}")
    if slot.kind == "choice":
        value = text.lower()
        if value not in slot.choices:
            raise InputError(name, f"expected one of {', '.join(sorted(slot.choices))}; got {text[:40]!r}")
        return value
    return text
