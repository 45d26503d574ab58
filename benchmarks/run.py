"""Run every llmhw benchmark with one command and write benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/run.py            (or: make bench)
    .venv/bin/python benchmarks/run.py --quick    (fewer rows: a smoke run, not for RESULTS.md)
        (--quick still writes --out and the .json next to it; pass e.g. --out /tmp/r.md so that the next full
        run still finds the previous full run's numbers in benchmarks/RESULTS.json)

Absolute times vary between machines and with load, so the targets that are ratios are measured within this
one run, the processes compared interleaved run by run: cold `llmhw check` against `llmfit plan` for the same
model (llmfit, the closest peer, from the LLMFIT variable or PATH; `make bench` installs it into build/llmfit when
the registry has it) and against a bare `import experta`; `llmhw --help` against a bare `import click`; and the
synthetic 10x catalog (every copy's bandwidth and compute moved by up to 5%, so no two devices size alike)
against the real one, profile by profile. The warm consultation is measured on the current code only; for before/after it is shown next to
the warm numbers of the previous run, read from the RESULTS.json this run replaces (a different run, so its
load may differ: both load averages are reported).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from profiles import hard_profiles, profiles  # noqa: E402

PY = sys.executable
LLMHW = str(Path(PY).with_name("llmhw"))


def _timed_run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall time of one process and its peak resident memory in bytes."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}")
    return wall, usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)


# experta 1.9.4 needs collections.Mapping, gone since Python 3.10: the floor gets the same one-line shim llmhw uses.
SHIM = "import collections, collections.abc; collections.Mapping = collections.abc.Mapping; "
CHECK_ARGS = ["check", "--model", "deepseek-r1:7b", "--hardware", "A100 80GB", "--precision", "q4_k_m"]
# The same question for llmfit: the model by its Hugging Face id (its tags are ambiguous), the same quantization and context.
LLMFIT_ARGS = ["plan", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "--quant", "Q4_K_M", "--context", "8192"]

PHASES = r"""
import time, json
t0 = time.perf_counter()
import collections, collections.abc; collections.Mapping = collections.abc.Mapping
import experta
t1 = time.perf_counter()
from llmhw import cli, api, session
t2 = time.perf_counter()
cat = api.catalog()
t3 = time.perf_counter()
session.engine()
t4 = time.perf_counter()
api.check({"model": "deepseek-r1:7b", "precision": "q4_k_m"}, "A100 80GB")
t5 = time.perf_counter()
api.check({"model": "deepseek-r1:7b", "precision": "q4_k_m"}, "A100 80GB")
t6 = time.perf_counter()
print(json.dumps({"import experta": t1 - t0, "import llmhw (cli, api, rules, engine class)": t2 - t1,
                  "load knowledge (snapshot)": t3 - t2, "build the engine (Rete network)": t4 - t3,
                  "first consultation": t5 - t4, "warm consultation": t6 - t5}))
"""


def llmfit() -> str | None:
    """The llmfit executable: $LLMFIT, else on PATH; None when it is not installed (or does not run here)."""
    found = os.environ.get("LLMFIT") or shutil.which("llmfit")
    if not found or not Path(found).exists():
        return None
    try:
        subprocess.run([found, *LLMFIT_ARGS], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return found


def cold_start(n: int) -> dict:
    """Each process run ``n`` times, interleaved (one of each in turn), so that background load hits them alike."""
    # Python keeps the bytecode it compiles (__pycache__), as it does on a user's machine after the first run, even where
    # the shell running the bench says not to (PYTHONDONTWRITEBYTECODE): an editable install is never precompiled
    user = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        cache = {**user, "LLMHW_CACHE_DIR": str(Path(tmp) / "cache")}
        cmds: dict[str, tuple[list[str], dict[str, str] | None]] = {
            "bare_experta": ([PY, "-c", SHIM + "import experta"], user),
            "bare_click": ([PY, "-c", "import click"], user),
            "help": ([LLMHW, "--help"], cache),
            "check": ([LLMHW, *CHECK_ARGS], cache),
        }
        fit = llmfit()
        if fit:
            cmds["llmfit"] = ([fit, *LLMFIT_ARGS], user)
        for cmd, env in cmds.values():  # warm the OS file cache; the first check writes the knowledge snapshot
            _timed_run(cmd, env)
        runs: dict[str, list[tuple[float, int]]] = {k: [] for k in [*cmds, "check_no_snapshot"]}
        for i in range(n):
            for k, (cmd, env) in cmds.items():
                runs[k].append(_timed_run(cmd, env))
            fresh = {**user, "LLMHW_CACHE_DIR": str(Path(tmp) / f"empty{i}")}  # a first start: YAML parsed, snapshot written
            runs["check_no_snapshot"].append(_timed_run([LLMHW, *CHECK_ARGS], fresh))
        phases = [json.loads(subprocess.run([PY, "-c", PHASES], check=True, capture_output=True, text=True, env=cache).stdout)
                  for _ in range(3)]
    out = {k: {"median_s": statistics.median(t for t, _ in v), "min_s": min(t for t, _ in v),
               "peak_rss_mb": max(m for _, m in v) / 1e6} for k, v in runs.items()}
    return {**out, "llmfit_found": bool(fit), "llmfit_cmd": " ".join(["llmfit", *LLMFIT_ARGS]), "check_cmd": " ".join(["llmhw", *CHECK_ARGS]),
            "phases": {k: statistics.median(p[k] for p in phases) for k in phases[0]}, "runs": n}


SERVED_CHECK = "/check?model=deepseek-r1:7b&hardware=A100%2080GB&precision=q4_k_m"  # the cold start's question, over HTTP
SERVED_DEMO = "/recommend?model=deepseek-r1:70b&concurrency=20&context=8192&budget=40000"


def served(n: int) -> dict:
    """Latency per request of a running `llmhw serve` (one warm engine), for the cold start's check and the demo."""
    import http.client

    proc = subprocess.Popen([LLMHW, "serve", "--port", "0"], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t = time.perf_counter()
    url = re.search(r"http://([\d.]+):(\d+)/", proc.stderr.readline())
    ready_s = time.perf_counter() - t
    assert url, "llmhw serve did not announce its address"
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # drain the request log

    def timed(path: str) -> float:
        conn = http.client.HTTPConnection(url.group(1), int(url.group(2)), timeout=60)
        t = time.perf_counter()
        conn.request("GET", path)
        reply = conn.getresponse()
        reply.read()
        assert reply.status == 200, (path, reply.status)
        conn.close()
        return time.perf_counter() - t

    try:
        timed(SERVED_CHECK)
        return {"ready_s": ready_s, "check": _stat([timed(SERVED_CHECK) for _ in range(n)]),
                "recommend": _stat([timed(SERVED_DEMO) for _ in range(n)]), "requests": n}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _timed_advise(api, p) -> float:
    t = time.perf_counter()
    api.advise(p)
    return time.perf_counter() - t


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def _stat(xs: list[float]) -> dict:
    return {"median_ms": 1000 * statistics.median(xs), "p99_ms": 1000 * _pct(xs, 0.99), "mean_ms": 1000 * statistics.mean(xs)}


def warm(n: int, n_hard: int) -> dict:
    from llmhw import api

    ps, hard = profiles(n), hard_profiles(n_hard)
    for p in ps[:10] + hard[:4]:
        api.advise(p)
    return {"profiles": n, "current": _stat([_timed_advise(api, p) for p in ps]),
            "hard_profiles": n_hard, "hard": _stat([_timed_advise(api, p) for p in hard])}


BUILD_WARM = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from profiles import profiles
from llmhw import api
ps = profiles(int(sys.argv[2]))
for p in ps[:10]:
    api.advise(p)
times = []
for p in ps:
    t = time.perf_counter()
    api.advise(p)
    times.append(time.perf_counter() - t)
print(json.dumps(times))
"""


def compiled() -> bool:
    """Whether the llmhw measured is a wheel's build, its planner compiled by mypyc (setup.py)."""
    from llmhw.planner import frontier

    return not frontier.__file__.endswith(".py")


def builds(n: int, rounds: int = 3) -> dict:
    """The warm consultations of the compiled build against the pure one (``LLMHW_PURE_PYTHON``: the editable .venv's
    python, which `make bench` passes), each in its own process, the two interleaved round by round; per profile the
    fastest of the rounds, so that a burst of load does not count against either."""
    pure = os.environ.get("LLMHW_PURE_PYTHON")
    if not compiled() or not pure:
        return {"compiled": compiled()}
    best: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, python in (("compiled", PY), ("pure", pure)):
            out = subprocess.run([python, "-c", BUILD_WARM, str(HERE), str(n)], capture_output=True, text=True, check=True)
            times = json.loads(out.stdout)
            best[name] = [min(a, b) for a, b in zip(best[name], times, strict=True)] if name in best else times
    c, p = statistics.median(best["compiled"]), statistics.median(best["pure"])
    return {"compiled": True, "profiles": n, "rounds": rounds, "compiled_median_ms": 1000 * c, "pure_median_ms": 1000 * p,
            "speedup_median": p / c, "speedup_mean": statistics.mean(best["pure"]) / statistics.mean(best["compiled"])}


def previous_run(json_path: Path) -> dict | None:
    """The warm numbers of the run whose RESULTS.json this run is about to replace (None if there is none).

    Runs written before the date was stored in the JSON take it from the RESULTS.md next to it. A JSON whose warm
    section has ``after``/``before`` comes from the benchmark that switched ``planner.CACHE`` and
    ``session.PREDICT_DEFAULTS``: that run measured the code with the caches and the twin grouping since removed,
    and its ``after`` column is the one that ran by default.
    """
    try:
        old = json.loads(json_path.read_text())
        w = old["warm"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    old_code = "current" not in w and "after" in w
    stat = w["current"] if not old_code else w["after"]
    date = old.get("date")
    if not date:
        md = json_path.with_suffix(".md")
        m = re.search(r" on (\d{4}-\d\d-\d\d \d\d:\d\d)", md.read_text()) if md.exists() else None
        date = m.group(1) if m else time.strftime("%Y-%m-%d %H:%M", time.localtime(json_path.stat().st_mtime))
    return {"date": date, "profiles": w.get("profiles"), "warm": stat, "removed_optimizations": old_code,
            "load_at_start": old.get("machine", {}).get("load_at_start", "?")}


def synthetic(cat, factor: int, seed: int = 1):
    """The real catalog with (factor - 1) copies of every accelerator: new ids, no aliases, prices within +-20%,
    and bandwidth and compute (bf16 TFLOPS) within +-5%, so that no two devices size alike.
    """
    rng = random.Random(seed)
    accels = dict(cat.accelerators)
    for k in range(1, factor):
        for a in cat.accelerators.values():
            prices = tuple(dataclasses.replace(p, usd=round(p.usd * rng.uniform(0.8, 1.2), 2)) for p in a.prices)
            changes = {"id": f"{a.id}-syn{k}", "name": f"{a.name} (synthetic {k})", "aliases": (), "prices": prices}
            f = rng.uniform(0.95, 1.05)
            changes["mem_bandwidth_gbs"] = a.mem_bandwidth_gbs * f
            if a.bf16_tflops:
                changes["bf16_tflops"] = a.bf16_tflops * f
            accels[changes["id"]] = dataclasses.replace(a, **changes)
    return dataclasses.replace(cat, accelerators=types.MappingProxyType(accels))


def scale(n10: int) -> dict:
    from llmhw import api

    real = api.catalog()
    ps = profiles(n10)
    out: dict = {"profiles_10x": n10}
    original = api.catalog

    def timed(cat, p) -> float:
        api.catalog = lambda dirs=(): cat  # advise() reads the catalog through this function
        try:
            return _timed_advise(api, p)
        finally:
            api.catalog = original

    # The 100x catalog (no target) is left out: its slowest consultations took a minute each, most of the run.
    for name, factor, subset in (("10x", 10, ps),):
        cat = synthetic(real, factor)
        for p in subset[:3]:
            timed(real, p), timed(cat, p)
        base, big = [], []
        for p in subset:  # interleaved, profile by profile, so that background load hits both catalogs alike
            base.append(timed(real, p))
            big.append(timed(cat, p))
        out[name] = {"devices": len(cat.accelerators), "base_median_ms": 1000 * statistics.median(base),
                     "median_ms": 1000 * statistics.median(big), "p99_ms": 1000 * _pct(big, 0.99),
                     "ratio_median": statistics.median(big) / statistics.median(base),
                     "ratio_mean": statistics.mean(big) / statistics.mean(base)}
    return out


SUMMARY = re.compile(r"([\d,]+) rows, ([\d,]+) failed, ([\d.]+) s, ([\d,.]+) rows/s with (\d+) job\(s\)(?:, peak worker memory (\d+) MB)?")


BATCH_RUNS = 3  # --jobs 2 runs, the median reported: this machine's speed moves by a sixth from one minute to the next


def batch(rows_jobs2: int, rows_jobs1: int) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for jobs, n, runs in ((1, rows_jobs1, 1), (2, rows_jobs2, BATCH_RUNS)):
            src = Path(tmp) / f"in{n}.jsonl"
            src.write_text("".join(json.dumps(p) + "\n" for p in profiles(n, seed=3)))
            each = sorted((_batch_run(src, Path(tmp) / "out.jsonl", jobs) for _ in range(runs)), key=lambda v: v["rows_per_s"])
            out[f"jobs{jobs}"] = {**each[len(each) // 2], "runs": runs, "rows_per_s_all": [v["rows_per_s"] for v in each]}
    return out


def _batch_run(src: Path, dest: Path, jobs: int) -> dict:
    t = time.perf_counter()
    proc = subprocess.run([LLMHW, "batch", str(src), "--out", str(dest), "--jobs", str(jobs)], capture_output=True, text=True)
    wall = time.perf_counter() - t
    m = SUMMARY.search(proc.stderr)
    if m is None:
        raise RuntimeError(f"batch failed: {proc.stderr[-2000:]}")
    return {"rows": int(m.group(1).replace(",", "")), "failed": int(m.group(2).replace(",", "")), "seconds": float(m.group(3)),
            "rows_per_s": float(m.group(4).replace(",", "")), "wall_s": wall, "peak_worker_mb": int(m.group(6) or 0),
            "exit": proc.returncode}


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {"platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(),
            "load_at_start": load}


def verdict(ok: bool, missed: str = "") -> str:
    return "met" if ok else f"**missed** {missed}"


def _ms(x: float) -> str:
    return f"{x * 1000:.0f} ms"


def _build_line(bd: dict) -> str:
    """What was measured: the compiled build (a wheel) or the pure one, and the one against the other."""
    if not bd.get("compiled"):
        return ("Build: **pure Python** (an editable install, or a wheel built without a C compiler or with `LLMHW_PURE=1`); "
                "`make bench` measures the compiled install.")
    line = "Build: **compiled** (the wheel `pip install .` builds: setup.py compiles the planner and the formulas with mypyc)."
    if "pure_median_ms" in bd:
        line += (f" The same {bd['profiles']} warm consultations in the pure build (the editable .venv), each build in its own "
                 f"process, interleaved over {bd['rounds']} rounds, fastest round per profile: {bd['pure_median_ms']:.1f} ms "
                 f"median pure against {bd['compiled_median_ms']:.1f} ms compiled, **{bd['speedup_median']:.2f}x** "
                 f"({bd['speedup_mean']:.2f}x on the mean).")
    return line


def write_results(r: dict, path: Path) -> None:
    m, c, w, s, b, sv = r["machine"], r["cold"], r["warm"], r["scale"], r["batch"], r.get("served")
    a, h, prev = w["current"], w["hard"], r.get("previous")
    pw = prev["warm"] if prev else None
    was = (lambda k: f" (previous run: {pw[k]:.1f} ms)") if pw else (lambda k: "")
    j1, j2 = b["jobs1"], b["jobs2"]
    check, experta, click_, help_ = c["check"]["median_s"], c["bare_experta"]["median_s"], c["bare_click"]["median_s"], c["help"]["median_s"]
    if c["llmfit_found"]:
        peer = c["llmfit"]["median_s"]
        cold_row = (f"| 1 | Cold start: `{c['check_cmd']}` vs `{c['llmfit_cmd']}` | at most llmfit's | "
                    f"{_ms(check)} vs {_ms(peer)} = **{check / peer:.2f}x** (bare `import experta`: {_ms(experta)}) | "
                    f"{verdict(check <= peer, f'by {check / peer - 1:.0%}')} |")
    else:
        cold_row = (f"| 1 | Cold start: `{c['check_cmd']}` vs `python -c 'import experta'` (llmfit is not installed here) | at most 2x | "
                    f"{_ms(check)} vs {_ms(experta)} = **{check / experta:.2f}x** | "
                    f"{verdict(check <= 2 * experta, f'by {check / experta / 2 - 1:.0%}')} |")
    v_help = verdict(help_ <= 1.3 * click_, f"by {help_ / click_ / 1.3 - 1:.0%}")
    v_med = verdict(a["median_ms"] <= 15, f"by {a['median_ms'] - 15:.1f} ms")
    v_p99 = verdict(a["p99_ms"] <= 60, f"by {a['p99_ms'] - 60:.1f} ms")
    v_hmed = verdict(h["median_ms"] <= 15, f"by {h['median_ms'] - 15:.1f} ms")
    v_hp99 = verdict(h["p99_ms"] <= 60, f"by {h['p99_ms'] - 60:.1f} ms")
    v_10x = verdict(s["10x"]["ratio_median"] <= 2, f"by {s['10x']['ratio_median'] / 2 - 1:.0%}")
    v_batch = verdict(j2["rows_per_s"] >= 200, f"by {1 - j2['rows_per_s'] / 200:.0%}")
    v_mem = verdict(0 < j2["peak_worker_mb"] < 150)
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`benchmarks/run.py`) on {r['date']}, in {r['seconds']:.0f} s.",
        "",
        f"Machine: {m['platform']}; CPU: {m['cpu']}; {m['cpus']} CPUs; Python {m['python']}; "
        f"load average at start: {m['load_at_start']}; at the end: {r.get('load_at_end', '?')}.",
        "",
        _build_line(r.get("builds", {})),
        "",
        "| # | What | Target | Measured | Verdict |",
        "|---|------|--------|----------|---------|",
        cold_row,
        f"| 1 | `llmhw --help` vs `python -c 'import click'` | at most 1.3x | {_ms(help_)} vs {_ms(click_)} = **{help_ / click_:.2f}x** | {v_help} |",
        f"| 2 | Warm consultation, {w['profiles']} profiles: median | at most 15 ms | **{a['median_ms']:.1f} ms**{was('median_ms')} | {v_med} |",
        f"| 2 | Warm consultation: p99 | at most 60 ms | **{a['p99_ms']:.1f} ms**{was('p99_ms')} | {v_p99} |",
        f"| 2 | Hard mix, {w['hard_profiles']} profiles (671B, enterprise, budgets, training): median | at most 15 ms | "
        f"**{h['median_ms']:.1f} ms** | {v_hmed} |",
        f"| 2 | Hard mix: p99 | at most 60 ms | **{h['p99_ms']:.1f} ms** | {v_hp99} |",
        f"| 3 | 10x catalog ({s['10x']['devices']} devices) vs real | at most 2x | **{s['10x']['ratio_median']:.2f}x** median "
        f"({s['10x']['ratio_mean']:.2f}x mean) | {v_10x} |",
        f"| 4 | Batch `--jobs 2`, {j2['rows']:,} profiles (median of {j2.get('runs', 1)} runs) | at least 200/s | "
        f"**{j2['rows_per_s']:.0f} rows/s** | {v_batch} |",
        f"| 4 | Batch memory per worker | under 150 MB | **{j2['peak_worker_mb']} MB** peak RSS | {v_mem} |",
        f"| 4 | Peak memory of a cold `llmhw check` | (no target) | **{c['check']['peak_rss_mb']:.0f} MB** RSS | - |",
        *([f"| 5 | `llmhw serve`: the same check over HTTP, median of {sv['requests']} | (no target) | **{sv['check']['median_ms']:.0f} ms** "
           f"(p99 {sv['check']['p99_ms']:.0f} ms) vs {_ms(check)} cold | - |",
           f"| 5 | `llmhw serve`: the demo `/recommend` (JSON) | (no target) | **{sv['recommend']['median_ms']:.0f} ms** "
           f"(p99 {sv['recommend']['p99_ms']:.0f} ms); ready {sv['ready_s']:.1f} s after start | - |"] if sv else []),
        "",
        "## 1. Cold start",
        "",
        f"Each process {c['runs']} times, interleaved (one of each in turn, so that background load hits all alike); "
        "median wall time, fastest run and peak resident memory. `llmhw` reads its knowledge snapshot and Python its "
        "compiled bytecode (both written by the first run, before these, as on a user's machine); the no-snapshot row "
        "is a first start ever: every run in an empty cache directory."
        + ("" if c["llmfit_found"] else " llmfit is not installed here (`make bench` installs it into build/llmfit "
           "when the package registry has it), so the cold target is 2x a bare `import experta`."),
        "",
        "| Process | median ms | fastest ms | peak RSS MB |", "|---|---|---|---|",
        *[f"| {label} | {c[k]['median_s'] * 1000:.0f} | {c[k]['min_s'] * 1000:.0f} | {c[k]['peak_rss_mb']:.0f} |"
          for k, label in (("check", f"`{c['check_cmd']}`"), ("check_no_snapshot", "the same, no snapshot yet"),
                           ("llmfit", f"`{c['llmfit_cmd']}`"), ("help", "`llmhw --help`"),
                           ("bare_experta", "`python -c 'import experta'`"), ("bare_click", "`python -c 'import click'`")) if k in c],
        "",
        "Where a cold `llmhw check` spends its time (median of 3, in-process, snapshot present):",
        "",
        "| Phase | ms |", "|---|---|",
        *[f"| {k} | {v * 1000:.0f} |" for k, v in c["phases"].items()],
        "",
        "## 2. Warm consultation, this run and the previous one",
        "",
        f"`api.advise` over the fixed set of {w['profiles']} profiles in `benchmarks/profiles.py` and over its hard mix "
        f"(`hard_profiles`, {w['hard_profiles']} profiles), engine reused. The previous run's numbers are read from the "
        "`RESULTS.json` this run replaced; it ran at another time, under another load, so compare with care.",
        "",
        "| | profiles | median ms | p99 ms | mean ms | load average at start |", "|---|---|---|---|---|---|",
        f"| this run ({r['date']}) | {w['profiles']} | {a['median_ms']:.1f} | {a['p99_ms']:.1f} | {a['mean_ms']:.1f} | "
        f"{m['load_at_start']} |",
        f"| this run, hard mix | {w['hard_profiles']} | {h['median_ms']:.1f} | {h['p99_ms']:.1f} | {h['mean_ms']:.1f} | |",
        *([f"| previous run ({prev['date']}) | {prev['profiles']} | {pw['median_ms']:.1f} | {pw['p99_ms']:.1f} | "
           f"{pw['mean_ms']:.1f} | {prev['load_at_start']} |"] if prev else []),
        "",
        *(["No previous `RESULTS.json` was found, so there is nothing to compare with.", ""] if not prev else []),
        "## 3. Scale",
        "",
        "A synthetic catalog: every real accelerator copied 9 times with a new id, no aliases, prices moved by up to 20% and "
        "bandwidth and compute moved by up to 5%, so that no two devices size alike. The same profiles run on the "
        f"real catalog in the same run for the ratio, interleaved profile by profile ({s['profiles_10x']} profiles).",
        "",
        "| Catalog | devices | real median ms | median ms | p99 ms | ratio (median) | ratio (mean) |",
        "|---|---|---|---|---|---|---|",
        *[f"| {k} | {v['devices']} | {v['base_median_ms']:.1f} | {v['median_ms']:.1f} | {v['p99_ms']:.1f} | "
          f"{v['ratio_median']:.2f}x | {v['ratio_mean']:.2f}x |" for k, v in s.items() if isinstance(v, dict)],
        "",
        "## 4. Batch throughput",
        "",
        "| jobs | rows | failed | s | rows/s | runs (rows/s of each) | peak RSS per worker MB | exit |", "|---|---|---|---|---|---|---|---|",
        *[f"| {k[4:]} | {v['rows']:,} | {v['failed']} | {v['seconds']:.1f} | {v['rows_per_s']:.1f} | "
          f"{v.get('runs', 1)} ({', '.join(f'{x:.0f}' for x in v.get('rows_per_s_all', [v['rows_per_s']]))}) | {v['peak_worker_mb']} | {v['exit']} |"
          for k, v in b.items()],
        "",
        f"With {j2.get('runs', 1)} runs, the row is the median run's.",
        "",
        f"Speed-up from 1 to 2 jobs: {j2['rows_per_s'] / j1['rows_per_s']:.2f}x. "
        + ("" if j1["rows"] == j2["rows"] else f"(`--jobs 1` ran {j1['rows']:,} rows to save time; its rate is per row.)"),
        "",
    ]
    notes = r.get("notes")
    if notes:
        lines += ["## Notes", "", notes.strip(), ""]
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer profiles and rows (smoke run)")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--notes", default=str(HERE / "NOTES.md"), help="analysis appended to RESULTS.md, if the file exists")
    args = ap.parse_args()
    q = args.quick
    t = time.perf_counter()
    out = Path(args.out)
    previous = previous_run(out.with_suffix(".json"))  # read before this run overwrites it
    r: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "previous": previous}
    print("machine:", r["machine"], flush=True)
    print("previous run:", previous, flush=True)
    r["cold"] = cold_start(3 if q else 11)
    print("cold start:", r["cold"], flush=True)
    r["served"] = served(20 if q else 50)
    print("served:", r["served"], flush=True)
    r["builds"] = builds(20 if q else 120)
    print("builds:", r["builds"], flush=True)
    r["warm"] = warm(40 if q else 240, 12 if q else 120)
    print("warm:", r["warm"], flush=True)
    r["scale"] = scale(20 if q else 120)
    print("scale:", r["scale"], flush=True)
    r["batch"] = batch(200 if q else 2_000, 100 if q else 500)
    print("batch:", r["batch"], flush=True)
    r["seconds"] = time.perf_counter() - t
    r["load_at_end"] = machine()["load_at_start"]
    notes = Path(args.notes)
    r["notes"] = notes.read_text() if notes.exists() else ""
    out.with_suffix(".json").write_text(json.dumps(r, indent=2))
    write_results(r, out)
    print(f"wrote {args.out} in {r['seconds']:.0f} s")


if __name__ == "__main__":
    main()
