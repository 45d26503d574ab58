"""Range and consistency checks of knowledge entries, beyond what their declared types say.

The loader checks each field's type and sign (``schema.meta(positive=True)``); this module checks what needs
several fields or a range: a fraction in (0, 1], kv_heads dividing heads, no more active experts than experts,
usable memory within the device's memory, no more sliding-window layers than layers. Built-in and extra files
are checked alike, each error naming file, entry and key on one line: numbers that pass here can still be
wrong, but never absurd enough to give a silently absurd answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import KnowledgeError
from .runtime_schema import LAUNCH_STYLES, LaunchTool, Runtime
from .schema import Accelerator, Model, Precision

# How each form of option is spelled: a dashed option, a MaxText key, a dotted DeepSpeed config key, a Python keyword.
FLAG_SPELLING = {"option": r"--?[A-Za-z0-9][\w-]*", "switch": r"--?[A-Za-z0-9][\w-]*", "setting": r"[a-z][a-z0-9_]*",
                 "config-key": r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*", "keyword": r"[a-z][a-z0-9_]*"}
MAX_BITS_PER_WEIGHT = 64  # fp64, the widest number format there is: more is a typo (bytes for bits)

Problem = tuple[str, str]  # (key, what is wrong: "expected X, got Y")


def _model(m: Model) -> Iterator[Problem]:
    if m.heads % m.kv_heads:
        yield "kv_heads", f"expected a divisor of heads ({m.heads:,}), got {m.kv_heads:,}"
    if m.experts_active is not None and (m.experts is None or m.experts_active > m.experts):
        yield "experts_active", f"expected at most experts ({m.experts}), got {m.experts_active:,}"
    if m.shared_experts is not None and m.shared_experts < 0:
        yield "shared_experts", f"expected zero or more, got {m.shared_experts:,}"
    if not 0 <= m.sliding_layers <= m.layers:
        yield "sliding_layers", f"expected 0 to layers ({m.layers:,}), got {m.sliding_layers:,}"
    if m.sliding_layers and m.sliding_window is None:
        yield "sliding_window", f"required when sliding_layers is set ({m.sliding_layers:,})"
    if m.sliding_window is not None and m.sliding_window > m.max_context:
        yield "sliding_window", f"expected at most max_context ({m.max_context:,}), got {m.sliding_window:,}"


def _accelerator(a: Accelerator) -> Iterator[Problem]:
    # memory_bytes is the installed memory (the vendor's "GB" read as GiB): the driver never reports more
    if a.usable_memory_bytes > a.memory_bytes:
        yield "usable_memory_bytes", f"expected at most memory_bytes ({a.memory_bytes:,}), got {a.usable_memory_bytes:,}"
    # a whole system's power is that of a part bought in systems, and covers at least its GPUs' own rated power
    if a.system_power_w is not None:
        if a.purchase_unit < 2:
            yield "system_power_w", f"expected only with a unit of 2 or more devices, got unit {a.purchase_unit}"
        elif a.tdp_w is not None and a.system_power_w < a.purchase_unit * a.tdp_w:
            yield "system_power_w", (f"expected at least unit x tdp_w ({a.purchase_unit} x {a.tdp_w:g} = "
                                     f"{a.purchase_unit * a.tdp_w:g}), got {a.system_power_w:g}")


def _precision(p: Precision) -> Iterator[Problem]:
    if p.bits_per_weight > MAX_BITS_PER_WEIGHT:
        yield "bits_per_weight", f"expected at most {MAX_BITS_PER_WEIGHT}, got {p.bits_per_weight:g}"
    if p.kv_bytes_per_element is not None and p.kv_bytes_per_element > MAX_BITS_PER_WEIGHT / 8:
        yield "kv_bytes_per_element", f"expected at most {MAX_BITS_PER_WEIGHT // 8}, got {p.kv_bytes_per_element:g}"


def _runtime(r: Runtime) -> Iterator[Problem]:
    if r.overhead_bytes < 0:
        yield "overhead_bytes", f"expected zero or more, got {r.overhead_bytes:,}"
    if not 0 < r.memory_fraction <= 1:
        yield "memory_fraction", f"expected a fraction in (0, 1], got {r.memory_fraction:g}"
    for part in ("per_device", "per_replica", "coordinator", "system"):
        cores = getattr(r.host_cores, part, 0)
        if cores < 0:
            yield "host_cores", f"expected {part} of zero or more cores, got {cores:,}"
    styles = [t.style for t in r.launch]
    for style in sorted({s for s in styles if styles.count(s) > 1}):
        yield "launch", f"expected one launcher of style {style!r}, got {styles.count(style)}"
    for tool in r.launch:
        yield from _launch_tool(tool)


def _launch_tool(tool: LaunchTool) -> Iterator[Problem]:
    """A launcher's table names every role its style uses, once, each option spelled as its form is written."""
    where = f"launch {tool.style!r}"
    roles = [f.role for f in tool.flags]
    needed = LAUNCH_STYLES[tool.style]
    for role in needed:
        if role not in roles:
            yield where, f"expected an option for role {role!r} (the launch plans set it), got none"
    for f in tool.flags:
        if f.role not in needed:
            yield where, f"role {f.role!r}: expected one of {', '.join(sorted(needed))}"
        elif roles.count(f.role) > 1:
            yield where, f"role {f.role!r}: expected one option, got {roles.count(f.role)}"
        if not re.fullmatch(FLAG_SPELLING[f.form], f.flag):
            yield where, f"role {f.role!r}: expected a {f.form} spelled like {FLAG_SPELLING[f.form]}, got {f.flag!r}"


CHECKS: dict[type, Callable[[Any], Iterator[Problem]]] = {
    Model: _model, Accelerator: _accelerator, Precision: _precision, Runtime: _runtime,
}


def check_entries(file: str, label: str, entries: Iterable[Any]) -> None:
    """Raise ``KnowledgeError`` for the first entry of ``file`` out of range or inconsistent: ``file: label 'id', key 'k': ...``."""
    for entry in entries:
        check = CHECKS.get(type(entry))
        for key, problem in check(entry) if check else ():
            raise KnowledgeError(f"{file}: {label} '{entry.id}', key '{key}': {problem}")
