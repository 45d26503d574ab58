"""`llmhw detect`: recorded outputs of real machines through the probes' own parsers, the real probes on this
machine, the catalog match, and `--hardware this` (sources of the fixtures: tests/data/machines/SOURCES.md)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from llmhw.cli import main
from llmhw.machine import Gpu, amd, apple, detect, host, nvidia
from llmhw.machine.match import match_gpu

DATA = Path(__file__).parent / "data" / "machines"
MIB = 2**20
HAS_GPU_TOOL = any(shutil.which(t) for t in ("nvidia-smi", "rocm-smi")) or sys.platform == "darwin"
no_gpu_here = pytest.mark.skipif(HAS_GPU_TOOL, reason="this machine has a GPU driver: the CPU-only answers do not apply")


def fixture(name: str) -> str:
    return (DATA / name).read_text()


# ---------------------------------------------------------------- recorded outputs through the parsers
def test_nvidia_smi_csv_of_a_four_gpu_box():
    gpus = nvidia.parse_nvidia_smi_csv(fixture("nvidia-smi-4x-a800.csv"))
    assert gpus == [Gpu(vendor="nvidia", name="NVIDIA A800-SXM4-80GB", memory_total_bytes=81920 * MIB,
                        memory_free_bytes=81176 * MIB, source="nvidia-smi")] * 4
    assert gpus[0].memory_total_bytes == 85_899_345_920


def test_nvidia_smi_csv_keeps_unreported_memory_unknown():
    """DGX Spark's GB10 prints [N/A] for device memory (unified with the CPU's)."""
    text = "name, memory.total [MiB], memory.free [MiB]\nNVIDIA GB10, [N/A], [N/A]\n"
    assert nvidia.parse_nvidia_smi_csv(text) == [Gpu(vendor="nvidia", name="NVIDIA GB10", memory_total_bytes=None,
                                                     memory_free_bytes=None, source="nvidia-smi")]


def test_rocm_smi_json_of_an_amd_box():
    assert amd.parse_rocm_smi_json(fixture("rocm-smi-rx-7900-xt.json")) == [
        Gpu(vendor="amd", name="Radeon RX 7900 XT", memory_total_bytes=21_458_059_264,
            memory_free_bytes=21_458_059_264 - 27_856_896, source="rocm-smi")]


def test_sysctl_of_a_mac():
    assert apple.apple_gpus(fixture("sysctl-m4-pro.txt"), None) == [
        Gpu(vendor="apple", name="Apple M4 Pro", memory_total_bytes=68_719_476_736, source="sysctl")]


def test_system_profiler_of_a_mac():
    assert apple.parse_system_profiler(fixture("system_profiler-m3-pro.json")) == [("Apple M3 Pro", None)]


def test_system_profiler_core_count_joins_the_chip():
    sysctl = "hw.memsize: 34359738368\nmachdep.cpu.brand_string: Apple M3 Pro\n"
    gpus = apple.apple_gpus(sysctl, json.dumps({"SPDisplaysDataType": [{"sppci_model": "Apple M3 Pro", "sppci_cores": "18"}]}))
    assert gpus == [Gpu(vendor="apple", name="Apple M3 Pro", memory_total_bytes=34_359_738_368, source="sysctl", cores=18)]


def test_an_intel_mac_has_no_apple_gpu():
    assert apple.apple_gpus("hw.memsize: 17179869184\nmachdep.cpu.brand_string: Intel(R) Core(TM) i7-9750H CPU @ 2.60GHz\n", None) == []


def test_proc_cpuinfo_counts_cores_and_threads_apart():
    block = ("processor\t: {p}\nmodel name\t: AMD EPYC 9554 64-Core Processor\nphysical id\t: 0\ncore id\t\t: {c}\n"
             "flags\t\t: fpu avx2 avx512f avx512_bf16\n")
    text = "\n".join(block.format(p=p, c=p // 2) for p in range(4))
    assert host.parse_proc_cpuinfo(text) == host.Cpu(model="AMD EPYC 9554 64-Core Processor", physical_cores=2, logical_cores=4,
                                                    flags=("avx2", "avx512f", "avx512_bf16"))


def test_disk_types_from_sysfs(tmp_path):
    for name, rotational in (("nvme0n1", "0"), ("sda", "1"), ("sdb", "0"), ("loop0", "0"), ("zram0", "0")):
        (tmp_path / name / "queue").mkdir(parents=True)
        (tmp_path / name / "queue" / "rotational").write_text(rotational + "\n")
    assert host.disks(tmp_path) == (host.Disk("nvme0n1", "nvme"), host.Disk("sda", "rotational"), host.Disk("sdb", "ssd"))


# ---------------------------------------------------------------- matching driver names and totals to the catalog
@pytest.mark.parametrize(("name", "mib", "expected"), [
    ("NVIDIA GeForce RTX 4090", 24564, "rtx-4090"),  # RLinf/RLinf#255
    ("NVIDIA GeForce RTX 5090", 32607, "rtx-5090"),  # noonghunna/club-3090#1229
    ("NVIDIA H100 80GB HBM3", 81559, "h100-sxm"),  # NVIDIA/nccl#1264; the rest: modal-labs/modal-client#2797
    ("NVIDIA A100-SXM4-80GB", 81920, "a100-80gb-sxm"),
    ("NVIDIA A100-SXM4-40GB", 40960, "a100-40gb-sxm"),
    ("NVIDIA A10", 23028, "a10"),
    ("NVIDIA L4", 23034, "l4"),
    ("NVIDIA L40S", 46068, "l40s"),
])
def test_driver_names_and_totals_match_their_catalog_entry(catalog, name, mib, expected):
    gpu = match_gpu(Gpu(vendor="nvidia", name=name, memory_total_bytes=mib * MIB), catalog)
    assert (gpu.catalog_id, gpu.catalog_note) == (expected, "")


def test_a_longer_driver_name_matches_by_its_leading_words(catalog):
    gpu = match_gpu(Gpu(vendor="nvidia", name="NVIDIA RTX PRO 6000 Blackwell Workstation Edition", memory_total_bytes=97887 * MIB), catalog)
    assert (gpu.catalog_id, gpu.catalog_note) == ("rtx-pro-6000-blackwell", "matched by the name 'RTX PRO 6000 Blackwell'")


def test_same_name_other_memory_is_not_that_entry(catalog):
    """The 8 GB RTX 3060 reports the 12 GB card's name: the driver's total tells them apart."""
    gpu = match_gpu(Gpu(vendor="nvidia", name="NVIDIA GeForce RTX 3060", memory_total_bytes=8192 * MIB), catalog)
    assert (gpu.catalog_id, gpu.catalog_note) == (None, "the catalog's rtx-3060-12gb reports 12.9 GB; this one reports 8.6 GB")


@pytest.mark.parametrize("gpus", [
    nvidia.parse_nvidia_smi_csv(fixture("nvidia-smi-4x-a800.csv"))[:1],
    apple.apple_gpus(fixture("sysctl-m4-pro.txt"), None),
])
def test_devices_the_catalog_lacks_are_described_from_the_driver(catalog, gpus):
    assert match_gpu(gpus[0], catalog).catalog_note == "no catalog entry has this name"


def test_a_recorded_amd_card_matches_its_entry_by_name_and_driver_total(catalog):
    gpu = match_gpu(amd.parse_rocm_smi_json(fixture("rocm-smi-rx-7900-xt.json"))[0], catalog)
    assert (gpu.catalog_id, gpu.catalog_note) == ("rx-7900-xt", "")


def test_a_tool_that_fails_is_one_line_naming_it():
    from llmhw.machine.run import run_tool

    assert run_tool(["sh", "-c", "echo; echo 'NVIDIA-SMI has failed because it could not communicate' >&2; exit 9"]) == (
        None, "sh failed (exit 9): NVIDIA-SMI has failed because it could not communicate")
    assert run_tool(["llmhw-no-such-tool"]) == (None, "llmhw-no-such-tool not found")
    assert run_tool(["sh", "-c", "echo ok"]) == ("ok\n", "")


def test_probes_never_import_the_engine():
    """Probes produce plain dataclasses: importing them loads neither experta nor the rules, planner or API."""
    import subprocess

    code = ("import sys, llmhw.machine; from llmhw.machine import detect; detect(); "
            "print(sorted(m for m in sys.modules if m == 'experta' or m.startswith(('llmhw.rules', 'llmhw.planner', 'llmhw.api', "
            "'llmhw.session'))))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


# ---------------------------------------------------------------- the real probes on this machine
@no_gpu_here
def test_this_machine_real_probes(catalog):
    import psutil

    found = detect(catalog)
    cpuinfo = Path("/proc/cpuinfo").read_text()
    assert found.gpus == ()
    assert found.cpu is not None and found.cpu.model == cpuinfo.split("model name")[1].split(":", 1)[1].splitlines()[0].strip()
    assert found.cpu.logical_cores == psutil.cpu_count() and found.cpu.physical_cores == psutil.cpu_count(logical=False)
    assert found.ram_total_bytes == psutil.virtual_memory().total
    assert [n.split(":")[0] for n in found.notes] == ["no NVIDIA driver", "no AMD driver"]
    assert found.notes[0].endswith("nvidia-smi not found") and found.notes[1].endswith("rocm-smi not found")


@no_gpu_here
def test_detect_says_no_gpu_here(runner):
    result = runner.invoke(main, ["detect"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    found = detect()
    assert found.cpu is not None and found.ram_total_bytes is not None
    assert lines[0].startswith(f"CPU: {found.cpu.model} · {found.cpu.physical_cores} cores, {found.cpu.logical_cores} threads")
    assert lines[1].startswith(f"RAM: {found.ram_total_bytes / 1e9:,.1f} GB (")
    assert lines[3] == "GPU: none found"
    assert lines[-1] == "--hardware this: no GPU detected; name one with --hardware"
    data = json.loads(runner.invoke(main, ["detect", "--format", "json"]).stdout)
    assert data["gpus"] == [] and data["ram_total_bytes"] == found.ram_total_bytes


@no_gpu_here
@pytest.mark.parametrize("command", [["check", "--model", "qwen2.5:7b"], ["fit"]])
def test_hardware_this_without_a_gpu_is_a_one_line_error(runner, command):
    result = runner.invoke(main, [*command, "--hardware", "this"])
    assert result.exit_code == 2
    assert result.stderr == "Error: hardware: no GPU detected; name one with --hardware\n"


# ---------------------------------------------------------------- recorded machines through the live probes
def _tools(monkeypatch: pytest.MonkeyPatch, outputs: dict[str, str]) -> None:
    """Vendor tools answer with recorded outputs; the Python bindings are absent (as on a machine without them)."""
    def run_tool(argv: list[str]) -> tuple[str | None, str]:
        return (outputs[argv[0]], "") if argv[0] in outputs else (None, f"{argv[0]} not found")

    for module in (nvidia, amd, apple):
        monkeypatch.setattr(module, "run_tool", run_tool)
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setitem(sys.modules, "amdsmi", None)


def test_detect_describes_a_recorded_nvidia_and_amd_box(runner, monkeypatch):
    _tools(monkeypatch, {"nvidia-smi": fixture("nvidia-smi-4x-a800.csv"), "rocm-smi": fixture("rocm-smi-rx-7900-xt.json")})
    result = runner.invoke(main, ["detect"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[3:] == [
        "GPU: 4 x NVIDIA A800-SXM4-80GB · 85.9 GB each (85.1 GB free) · not in the catalog: no catalog entry has this name [nvidia-smi]",
        "GPU: 1 x Radeon RX 7900 XT · 21.5 GB each (21.4 GB free) · catalog: rx-7900-xt [rocm-smi]",
        "--hardware this: 1 x rx-7900-xt",  # the one GPU the catalog knows; the A800s are described, not planned
    ]


def test_detect_describes_a_recorded_mac(runner, monkeypatch):
    _tools(monkeypatch, {"sysctl": fixture("sysctl-m4-pro.txt"), "system_profiler": fixture("system_profiler-m3-pro.json")})
    monkeypatch.setattr(apple.sys, "platform", "darwin")
    data = json.loads(runner.invoke(main, ["detect", "--format", "json"]).stdout)
    assert data["gpus"] == [{"vendor": "apple", "name": "Apple M4 Pro", "memory_total_bytes": 68_719_476_736, "memory_free_bytes": None,
                             "source": "sysctl", "cores": None, "catalog_id": None, "catalog_note": "no catalog entry has this name"}]
    assert data["notes"] == ["no NVIDIA driver: nvidia-ml-py is not installed; nvidia-smi not found",
                             "no AMD driver: amdsmi is not installed; rocm-smi not found"]


class _FakeNvml:
    """pynvml's calls on a machine with two RTX 4090s (totals and use as `nvidia-smi` printed them in RLinf/RLinf#255)."""

    NVMLError = RuntimeError
    used_mib = (507, 459)

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> str:
        return "NVIDIA GeForce RTX 4090"

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return SimpleNamespace(total=24564 * MIB, free=(24564 - self.used_mib[handle]) * MIB)


def test_nvml_devices_are_read_and_matched(runner, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _FakeNvml())
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    monkeypatch.setattr(amd, "run_tool", lambda argv: (None, "rocm-smi not found"))
    result = runner.invoke(main, ["detect"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[3:] == [
        "GPU: 2 x NVIDIA GeForce RTX 4090 · 25.8 GB each (25.2-25.3 GB free) · catalog: rtx-4090 [nvml]",
        "  no AMD driver: amdsmi is not installed; rocm-smi not found",
        "--hardware this: 2 x rtx-4090",
    ]
    checked = json.loads(runner.invoke(main, ["check", "--model", "qwen2.5:7b", "--hardware", "this", "--format", "json"]).stdout)
    assert (checked["hardware"], checked["count"]) == ("rtx-4090", 2)
    one = json.loads(runner.invoke(main, ["check", "--model", "qwen2.5:7b", "--hardware", "this", "--count", "1", "--format", "json"]).stdout)
    assert (one["hardware"], one["count"]) == ("rtx-4090", 1)
    fitted = json.loads(runner.invoke(main, ["fit", "--hardware", "this", "--model", "qwen2.5:7b", "--format", "json"]).stdout)
    assert (fitted["hardware"], fitted["count"], [r["model"] for r in fitted["fits"]]) == ("rtx-4090", 2, ["qwen2.5-7b"])


class _FakeAmdsmi:
    """amdsmi's calls on the RX 7900 XT of marimo-team/marimo#9237 (its byte figures in whole MB, as amdsmi gives them)."""

    def amdsmi_init(self) -> None: ...
    def amdsmi_shut_down(self) -> None: ...
    def amdsmi_get_processor_handles(self) -> list[int]:
        return [0]

    def amdsmi_get_gpu_asic_info(self, handle: int) -> dict[str, str]:
        return {"market_name": "Radeon RX 7900 XT"}

    def amdsmi_get_gpu_vram_usage(self, handle: int) -> dict[str, int]:
        return {"vram_total": 21458059264 // MIB, "vram_used": 27856896 // MIB}


def test_amdsmi_devices_are_read(monkeypatch):
    monkeypatch.setitem(sys.modules, "amdsmi", _FakeAmdsmi())
    assert amd.probe() == ([Gpu(vendor="amd", name="Radeon RX 7900 XT", memory_total_bytes=20464 * MIB,
                                memory_free_bytes=(20464 - 26) * MIB, source="amdsmi")], [])
