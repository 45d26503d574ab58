"""`llmhw calibrate`: a speed the user measured, against our estimate for the same configuration, kept as knowledge.

Reads llama-bench output (``-o json`` or its default markdown table). Each text-generation row (``tg N``, every layer
on the GPU) becomes a calibration run: the model from the file's model type and size (or ``--model``), the hardware
from its GPU name (or ``--hardware``), the format from the GGUF type, llama.cpp as the runtime. The ratio measured /
estimated is printed; with a knowledge directory the runs are stored in its ``calibration.yaml`` (``local: true``,
sourced "measured on this machine" with the file's SHA-256 and date), and every later consultation with that
directory scales the decode estimate of that device and runtime by the measured ratio (``planner.measured``).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError, KnowledgeError
from .knowledge.loader import Catalog
from .knowledge.schema import CalibrationRun
from .models.formats import GGUF_FILE_TYPES
from .planner import Workload, evaluate
from .safe_write import starts_with, write_text

MAX_BYTES = 5_000_000  # a benchmark output is a few KB; anything larger is not one
RUNTIME = "llama-cpp"
HEADER = "# Speeds measured on this machine (llmhw calibrate); every consultation with this --knowledge directory uses them.\n"
VENDOR_WORDS = ("nvidia", "amd", "geforce", "radeon")
FTYPE_SUFFIXES = {" - Medium": "_M", " - Small": "_S", " - Large": "_L", " MoE": "_MOE"}


@dataclass(frozen=True)
class Row:
    """One text-generation measurement of llama-bench, as read from the file."""

    model_type: str  # "qwen2 7B Q4_K - Medium"
    params: float | None  # parameters (JSON: model_n_params; markdown: "7.62 B")
    filename: str
    gpu: str
    gpus: int
    gen_tokens: int
    depth_tokens: int
    tok_s: float


@dataclass(frozen=True)
class Measurement:
    """A measured run next to our estimate of it."""

    run: CalibrationRun
    estimate_tok_s: float

    @property
    def ratio(self) -> float:
        return self.run.published_tok_s / self.estimate_tok_s

    def to_dict(self) -> dict[str, Any]:
        r = self.run
        return {"id": r.id, "model": r.model, "hardware": r.hardware, "count": r.count, "precision": r.precision,
                "runtime": r.runtime, "context": r.context, "measured_tok_s": r.published_tok_s,
                "estimate_tok_s": round(self.estimate_tok_s, 2), "ratio": round(self.ratio, 3), "quote": r.quote}


@dataclass(frozen=True)
class Calibration:
    """What ``calibrate`` found in a file, and where it was stored.

    .. versionadded:: 0.3.0
    """

    file: str
    sha256: str
    tool: str
    measurements: tuple[Measurement, ...]
    stored: str | None  # the calibration.yaml written, if any

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "sha256": self.sha256, "tool": self.tool, "stored": self.stored,
                "measurements": [m.to_dict() for m in self.measurements]}


def read_rows(text: str, where: str) -> tuple[str, list[Row]]:
    """The tool and the text-generation rows of a llama-bench output (JSON array, JSON lines or markdown table)."""
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        try:
            data = json.loads(stripped) if stripped.startswith("[") else [json.loads(line) for line in stripped.splitlines() if line.strip()]
        except ValueError as exc:
            raise InputError("FILE", f"{where}: not valid JSON ({exc})") from None
        if not isinstance(data, list) or not all(isinstance(d, Mapping) and "avg_ts" in d for d in data):
            raise InputError("FILE", f"{where}: expected llama-bench -o json output (objects with avg_ts)")
        return "llama-bench json", [_json_row(d) for d in data if _int(d.get("n_prompt")) == 0 and _int(d.get("n_gen")) > 0]
    rows = [_markdown_row(line) for line in text.splitlines() if re.search(r"\|\s*tg\s*\d+", line)]
    if not rows:
        raise InputError("FILE", f"{where}: expected llama-bench output (-o json, or its markdown table with a tg row)")
    return "llama-bench markdown", rows


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _json_row(d: Mapping[str, Any]) -> Row:
    ngl = _int(d.get("n_gpu_layers"))
    if 0 <= ngl < 99 and ngl != 0 and d.get("n_cpu_moe", 0) == 0:  # llama-bench's "all layers" is 99 (older) or -1 (auto)
        raise InputError("FILE", f"n_gpu_layers {ngl}: a partial offload; calibrate takes runs with every layer on the GPU")
    gpu = str(d.get("gpu_info") or "")
    return Row(model_type=str(d.get("model_type", "")), params=float(d["model_n_params"]) if d.get("model_n_params") else None,
               filename=str(d.get("model_filename", "")), gpu=gpu.split(",")[0].strip(), gpus=len([g for g in gpu.split(",") if g.strip()]) or 1,
               gen_tokens=_int(d.get("n_gen")), depth_tokens=_int(d.get("n_depth")), tok_s=float(d["avg_ts"]))


def _markdown_row(line: str) -> Row:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    test = next(c for c in cells if re.match(r"tg\s*\d+", c))
    gen = int(re.findall(r"\d+", test)[0])
    depth = int(m.group(1)) if (m := re.search(r"@\s*d(\d+)", test)) else 0
    rate = float(cells[-1].split("±")[0].replace(",", ""))
    params = next((float(c.split()[0]) * 1e9 for c in cells if re.fullmatch(r"[\d.]+ B", c)), None)
    return Row(model_type=cells[0], params=params, filename="", gpu="", gpus=1, gen_tokens=gen, depth_tokens=depth, tok_s=rate)


def precision_of(model_type: str, where: str) -> str:
    """The catalog format of llama.cpp's file-type name at the end of ``model_type`` ("qwen2 7B Q4_K - Medium" -> q4_k_m)."""
    name = " ".join(model_type.split()[2:]).removeprefix("mostly ")
    for long, short in FTYPE_SUFFIXES.items():
        name = name.replace(long, short)
    key = ("ALL_" if name.upper() == "F32" else "MOSTLY_") + name.upper().replace(" ", "_")
    if key not in GGUF_FILE_TYPES:
        raise InputError("FILE", f"{where}: GGUF type {name!r} has no catalog format; expected one of "
                                 f"{', '.join(sorted(k.removeprefix('MOSTLY_') for k in GGUF_FILE_TYPES))}")
    return GGUF_FILE_TYPES[key]


def model_of(row: Row, cat: Catalog, given: str | None) -> str:
    """The catalog model: ``--model``, else the one whose name the file name holds and whose size matches the row's."""
    if given:
        return cat.resolve("model", given, "--model")
    folded = row.filename.lower().replace("_", "-")
    near = [m for m in cat.models.values() if row.params and abs(m.params / row.params - 1) < 0.03]
    named = [m for m in near if any(a.lower().replace(" ", "-") in folded for a in (m.id, m.name, *m.aliases))]
    picked = named or (near if len(near) == 1 else [])
    if len(picked) != 1:
        raise InputError("--model", f"the file does not say which catalog model {row.model_type!r} is; give --model")
    return picked[0].id


def hardware_of(row: Row, cat: Catalog, given: str | None) -> str:
    """The catalog accelerator: ``--hardware``, else the file's GPU name without its vendor words."""
    if given:
        return cat.resolve("hardware", given, "--hardware")
    words = [w for w in row.gpu.split() if w.lower() not in VENDOR_WORDS]
    for n in range(len(words), 1, -1):
        try:
            return cat.resolve("hardware", " ".join(words[:n]), "--hardware")
        except InputError:
            continue
    raise InputError("--hardware", f"the file names no catalog GPU ({row.gpu or 'none given'!r}); give --hardware")


def estimate(run: CalibrationRun, cat: Catalog) -> float:
    """Our decode rate per user for a run: the planner's own ``evaluate`` at its device, count, format and context."""
    w = Workload(model=run.model, task="inference", precision=run.precision, context=run.context, concurrency=run.users,
                 batch=1, activation_checkpointing=None, lora_rank=16, budget=None, ecosystem="any", deployment="local",
                 scale="team", hours_per_day=8, cpu_cores=None, ram_gb=None)
    option = evaluate(w, cat.models[run.model], cat.accelerators[run.hardware], run.count, cat.precisions[run.precision],
                      cat.runtimes[run.runtime], cat)
    assert option.tokens_per_s is not None  # inference always has a decode rate
    return option.tokens_per_s


def calibrate(path: str, cat: Catalog, model: str | None = None, hardware: str | None = None,
              knowledge_dir: str | None = None, today: datetime.date | None = None) -> Calibration:
    """Compare a measurement file with our estimates and, with ``knowledge_dir``, store it there as knowledge.

    :raises InputError: the file cannot be read or understood, or its model or hardware is not in the catalog.

    .. versionadded:: 0.3.0
    """
    file = Path(path)
    try:
        data = file.read_bytes()[: MAX_BYTES + 1]
    except OSError as exc:
        raise InputError("FILE", f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise InputError("FILE", f"{path}: over {MAX_BYTES:,} bytes, not a benchmark output")
    sha = hashlib.sha256(data).hexdigest()
    tool, rows = read_rows(data.decode("utf-8", errors="replace"), path)
    if not rows:
        raise InputError("FILE", f"{path}: no text-generation (tg) row to compare")
    day = today or datetime.date.today()
    source = f"measured-{sha[:12]}"
    base = _without_local(cat)
    measurements = []
    for i, row in enumerate(rows, 1):
        run = CalibrationRun(
            id=f"{source}-{i}", model=model_of(row, cat, model), hardware=hardware_of(row, cat, hardware), count=row.gpus,
            precision=precision_of(row.model_type, path), runtime=RUNTIME, engine=f"{tool} ({file.name})", users=1,
            context=row.gen_tokens + row.depth_tokens, quote=f"{row.model_type} | tg{row.gen_tokens}"
            + (f" @ d{row.depth_tokens}" if row.depth_tokens else "") + f" | {row.tok_s:g} t/s",
            sources=(source,), per_user_tok_s=row.tok_s, local=True,
            notes=f"measured on this machine; {file.name} SHA-256 {sha}, {day.isoformat()}")
        measurements.append(Measurement(run, estimate(run, base)))
    stored = _store(knowledge_dir, source, file, sha, day, [m.run for m in measurements]) if knowledge_dir else None
    return Calibration(file=str(path), sha256=sha, tool=tool, measurements=tuple(measurements), stored=stored)


def _without_local(cat: Catalog) -> Catalog:
    """The catalog with the user's earlier measurements left out: a measurement is compared with the model alone."""
    kept = {k: r for k, r in cat.calibration.items() if not r.local}
    return dataclasses.replace(cat, calibration=kept) if len(kept) != len(cat.calibration) else cat


def _store(directory: str, source: str, file: Path, sha: str, day: datetime.date, runs: Iterable[CalibrationRun]) -> str:
    """Add the runs (replacing those of the same file) to DIR/calibration.yaml and their source to DIR/sources.yaml."""
    from .knowledge.yamlio import read_yaml

    folder = Path(directory)
    if not folder.is_dir():
        raise InputError("--knowledge", f"{directory}: not a directory")
    entries: dict[str, list[dict[str, Any]]] = {"calibration": [], "sources": []}
    for stem in entries:
        existing = folder / f"{stem}.yaml"
        if existing.exists():
            try:
                doc = read_yaml(existing)
            except KnowledgeError as exc:
                raise InputError("--knowledge", str(exc)) from exc
            items = doc.get(stem) if isinstance(doc, dict) else None
            entries[stem] = [e for e in items or [] if isinstance(e, dict) and not str(e.get("id", "")).startswith(source)]
    entries["sources"].append({"id": source, "title": f"measured on this machine: {file.name} (SHA-256 {sha}), read by llmhw calibrate",
                               "url": str(file), "accessed": day.strftime("%Y-%m"), "quality": "primary"})
    entries["calibration"] += [{k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(r).items()
                                if v not in (None, "") and not (k == "held_out" and not v)} for r in runs]
    written = ""
    for stem, items in entries.items():
        text = HEADER + "schema_version: 1\n" + f"{stem}:\n" + "".join(f"  - {json.dumps(e, sort_keys=True)}\n" for e in items)
        target = folder / f"{stem}.yaml"
        write_text(target, text, "--knowledge", ours=starts_with(HEADER.encode(), b"schema_version"), force=True)
        written = str(folder / "calibration.yaml")
    return written
