"""Launch plans: the commands that start a sized option on its runtime, with the options that make the plan true.

Every option comes from the runtime's launch table (knowledge/runtimes.yaml, checked on load against the roles of
its style in ``knowledge.runtime_schema.LAUNCH_STYLES``), and every value from a number of the plan: the layout's tensor,
pipeline, data and expert parallel sizes, the workload's context and users, the runtime's memory share, the
training plan's micro-batch, accumulation steps, ZeRO stage and recomputation. ``plan`` is pure: the RUN rules call
it and record each value with the number that set it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import KnowledgeError
from ..knowledge.loader import Catalog
from ..knowledge.runtime_schema import LaunchTool, Runtime
from ..knowledge.schema import Model
from ..planner.options import Option, Workload


@dataclass(frozen=True)
class Setting:
    """One option a launch plan sets: as the runtime documents it, its value (None for a switch) and why."""

    role: str
    flag: str
    value: str | None
    why: str
    form: str
    tool: str  # the launcher's style (vllm-serve, deepspeed-config, ...)

    def argv(self) -> list[str]:
        """The option as command-line words (a config key or keyword appears in a file, not on a command line)."""
        if self.form == "switch":
            return [self.flag]
        if self.form == "setting":
            return [f"{self.flag}={self.value}"]
        return [self.flag, str(self.value)]

    def as_dict(self) -> dict[str, Any]:
        return {"flag": self.flag, "value": self.value, "why": self.why}


@dataclass(frozen=True)
class LaunchFile:
    """A configuration file (or API settings) the commands read."""

    name: str
    text: str


@dataclass(frozen=True)
class Launch:
    """How to start an option: the commands, each option with its reason, the files they read, and what to know."""

    runtime: str
    commands: tuple[str, ...]
    settings: tuple[Setting, ...]
    files: tuple[LaunchFile, ...] = ()
    note: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)  # each role's plan number, for the trace

    def as_dict(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "commands": list(self.commands), "flags": [s.as_dict() for s in self.settings],
                "files": [{"name": f.name, "text": f.text} for f in self.files], "note": self.note}


class Args:
    """The options of one launcher, set role by role from the plan's numbers."""

    def __init__(self, tool: LaunchTool) -> None:
        self.tool = tool
        self.settings: list[Setting] = []
        self.numbers: dict[str, Any] = {}

    def set(self, role: str, value: Any, why: str) -> None:
        """Set ``role`` to ``value`` (None: a switch that is on), saying which number of the plan it comes from."""
        flag = self.tool.flag(role)
        self.settings.append(Setting(role, flag.flag, None if value is None else str(value), why, flag.form, self.tool.style))
        self.numbers[role] = True if value is None else value

    def argv(self) -> list[str]:
        return [word for s in self.settings for word in s.argv()]

    def command(self, *head: str) -> str:
        """The launcher's documented command, then ``head`` (a model, a script), then the options."""
        return shlex.join([*shlex.split(self.tool.command), *head, *self.argv()])


def documented_flag(runtime: Runtime, style: str, role: str) -> str:
    """The option ``runtime`` documents for ``role``: tips quote it from the table the launch plans use."""
    tool = runtime.tool(style)
    if tool is None:
        raise KnowledgeError(f"runtimes.yaml: runtime '{runtime.id}', key 'launch': no {style!r} launcher")
    return tool.flag(role).flag


def hub_id(model: Model) -> str:
    """The model's Hugging Face repository (its first alias of the form org/name), else its catalog id."""
    return next((a for a in model.aliases if "/" in a and not a.startswith((".", "/"))), model.id)


def replicas_note(replicas: int, per_replica: int, flag: str) -> str:
    """What to do with several data-parallel replicas of a runtime that has no data-parallel option of its own."""
    if replicas <= 1:
        return ""
    return (f"{replicas} replicas of {per_replica} device(s) each: run one command per replica, each on its own devices "
            f"(CUDA_VISIBLE_DEVICES) and port ({flag}), and put a load balancer in front.")


Builder = Callable[[Option, Workload, Model, Runtime, Catalog], Launch]


def hosts(option: Option, catalog: Catalog) -> int:
    """The machines a launch spans: the layout's nodes, or more where a node holds several hosts (an NVL72 rack's 18
    trays of 4 GPUs, each with its own OS, form one Ray cluster like separate servers)."""
    per_host = catalog.accelerators[option.hardware].devices_per_host
    return max(option.layout.nodes, -(-option.count // per_host) if per_host else 1)


def plan(option: Option, w: Workload, catalog: Catalog) -> Launch:
    """The launch plan of a sized option: its runtime's commands with every option the plan's numbers set."""
    from .serve import SERVERS
    from .train import TRAINERS

    runtime = catalog.runtimes[option.runtime]
    model = catalog.models[w.model]
    for style, build in (TRAINERS if w.training else SERVERS).items():
        if runtime.tool(style) is not None:
            return build(option, w, model, runtime, catalog)
    note = runtime.launch_note or f"{runtime.name} has no launch table in runtimes.yaml: start it as its documentation says."
    return Launch(runtime=runtime.id, commands=(), settings=(), note=note)
