"""The shape of runtimes.yaml: a serving or training stack, the formats it runs where, how it is launched and the
host CPU cores it keeps busy (declared with ``schema.meta``, like every knowledge entry)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .schema import DATE_PATTERN, meta


@dataclass(frozen=True)
class RuntimeFormat:
    """A format a runtime runs, and on which ecosystems (vendors) it really runs it."""

    precision: str = meta(required=True)
    ecosystems: tuple[str, ...] = meta(required=True)
    sources: tuple[str, ...] = meta([])
    notes: str = meta("")


# How each kind of launcher is driven (engine/launch.py builds its commands), with the roles of the options it sets.
# A runtime's launch table names each role's documented option for its style (checked on load), so that an option the
# runtime renames changes in one line of runtimes.yaml, for the launch plans and for the tips that quote it alike.
LAUNCH_STYLES: dict[str, tuple[str, ...]] = {
    "vllm-serve": ("tensor_parallel", "pipeline_parallel", "data_parallel", "expert_parallel", "context", "sequences",
                   "memory_fraction", "kv_dtype", "quantization", "dtype"),
    "llama-server": ("model_file", "gpu_layers", "context", "sequences", "kv_dtype_k", "kv_dtype_v", "cpu_moe", "split_mode",
                     "tensor_split", "port"),
    "trtllm-serve": ("tensor_parallel", "pipeline_parallel", "expert_parallel", "sequences", "context", "batched_tokens",
                     "memory_fraction", "port", "llm_api_options"),
    "mlx-lm-server": ("model", "port"),
    "accelerate": ("processes", "machines", "module"),
    "trl-sft": ("model", "dataset", "micro_batch", "accumulation", "checkpointing", "bf16", "fp16", "context", "peft", "lora_rank",
                "four_bit", "deepspeed"),
    "deepspeed-config": ("micro_batch", "accumulation", "zero_stage", "bf16", "fp16", "offload_optimizer", "offload_param"),
    "unsloth": ("model", "context", "four_bit", "lora_rank", "checkpointing", "micro_batch", "accumulation", "full_finetuning"),
    "maxtext": ("run_name", "context", "micro_batch", "accumulation", "checkpointing", "fsdp"),
}
# How an option is written: `--flag VALUE`, `--flag` alone, `key=value` (MaxText), a key of a JSON config file
# (DeepSpeed, dotted path) or a keyword argument of a Python API (Unsloth).
FLAG_FORMS = ("option", "switch", "setting", "config-key", "keyword")


@dataclass(frozen=True)
class LaunchFlag:
    """One documented option of a launcher: the role the launch plans give it, and how it is written."""

    role: str = meta(required=True)
    flag: str = meta(required=True)
    form: str = meta("option", choices=FLAG_FORMS)


@dataclass(frozen=True)
class LaunchTool:
    """A launcher of a runtime (a command, a config file or an API) and its options, as published in one version."""

    style: str = meta(required=True, choices=tuple(LAUNCH_STYLES))
    command: str = meta(required=True)  # the documented entry point ("vllm serve"; a file name for a config file)
    version: str = meta(required=True)  # the release whose documentation the options were read from
    read: str = meta(required=True, pattern=DATE_PATTERN)  # when they were read
    sources: tuple[str, ...] = meta([])
    flags: tuple[LaunchFlag, ...] = meta([])

    def flag(self, role: str) -> LaunchFlag:
        """The option that plays ``role`` (the loader guarantees one for every role of the tool's style)."""
        return next(f for f in self.flags if f.role == role)


@dataclass(frozen=True)
class HostCores:
    """The CPU cores a runtime keeps busy on the host of its accelerators, as its documentation counts them (pitfall P2):
    its processes per device and per copy of the model it serves, and what it leaves the operating system."""

    per_device: int = meta(required=True, unit="cores per accelerator")  # 0: one process drives every device
    sources: tuple[str, ...] = meta(required=True)
    per_replica: int = meta(0, unit="cores per copy of the model served")
    coordinator: int = meta(0, unit="cores more when it serves several copies")
    system: int = meta(0, unit="cores for the operating system")
    notes: str = meta("")

    def cores(self, devices: int, replicas: int) -> int:
        """Cores for ``devices`` accelerators serving ``replicas`` copies of the model (before the users' share)."""
        return self.per_device * devices + self.per_replica * replicas + (self.coordinator if replicas > 1 else 0) + self.system


@dataclass(frozen=True)
class Runtime:
    """A serving or training stack, with what it reserves on each device and the formats it runs where."""

    id: str = meta(required=True)
    name: str = meta(required=True)
    ecosystems: tuple[str, ...] = meta(required=True)
    overhead_bytes: int = meta(required=True, unit="bytes per device")
    memory_fraction: float = meta(required=True, positive=True, unit="fraction of device memory")
    serves_many: bool = meta(required=True)
    batches: bool = meta(required=True)  # decodes concurrent requests in one batch; else users take turns
    trains: bool = meta(required=True)
    infers: bool = meta(required=True)  # offered for inference (HF transformers is a training stack here)
    formats: tuple[RuntimeFormat, ...] = meta([])
    kv_formats: tuple[str, ...] = meta([])  # precisions it accepts as the KV-cache dtype instead of 16-bit
    sources: tuple[str, ...] = meta([])
    prefill_chunk_tokens: int | None = meta(positive=True, unit="tokens")
    split: str = meta("tensor", choices=("tensor", "layer"))  # how it spreads a model over devices: layer = one device works at a time
    # Training stacks: the share of checkpointed activations left on the device when the stack offloads the
    # checkpoints to host RAM and never materialises the logits (unsloth-class), and the most devices it trains on.
    activation_device_fraction: float = meta(1.0, positive=True, unit="fraction of checkpointed activations")
    max_devices: int | None = meta(positive=True, unit="devices")
    # the host's CPU cores it needs (None: no published figure; policy host-cores-per-device, from DGX H100, stands in)
    host_cores: HostCores | None = meta()
    launch: tuple[LaunchTool, ...] = meta([])  # how it is started; empty where no single launcher exists (launch_note says why)
    launch_note: str = meta("")
    notes: str = meta("")

    def tool(self, style: str) -> LaunchTool | None:
        """This runtime's launcher of one style, if it has one."""
        return next((t for t in self.launch if t.style == style), None)

    def runs(self, precision: str, ecosystem: str) -> bool:
        """Whether this runtime runs ``precision`` on hardware of ``ecosystem``."""
        return (precision, ecosystem) in self._runs

    @cached_property
    def _runs(self) -> frozenset[tuple[str, str]]:
        """Every (precision, ecosystem) it runs: asked for each device and format of every enumeration."""
        return frozenset((f.precision, e) for f in self.formats for e in f.ecosystems)
