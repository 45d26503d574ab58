"""The shape of policy.yaml: each entry as written (``PolicyValue``), and every entry as one typed field of ``Policy``,
which the rules match and the planner reads (declared with ``schema.meta``, like every knowledge entry)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .schema import QUALITY_CLASSES, meta


@dataclass(frozen=True)
class PolicyValue:
    """A threshold or constant that a rule or formula uses."""

    id: str = meta(required=True)
    value: Any = meta(required=True)
    unit: str = meta(required=True)
    why: str = meta(required=True)
    sources: tuple[str, ...] = meta([])


def _limit(unit: str, positive: bool = True) -> Any:
    return meta(required=True, unit=unit, positive=positive)


@dataclass(frozen=True)
class Policy:
    """Every entry of policy.yaml as one typed field (the entry id with ``-`` as ``_``).

    The loader requires each field once and rejects entries no field declares; rules match
    these values in their patterns (a ``Policy`` fact) and read them as ``self.policy``.
    """

    # defaults for inputs the user did not give
    default_task: str = meta(required=True)
    default_precision: str = meta(required=True)
    default_context: int = _limit("tokens")
    default_concurrency: int = _limit("sequences")
    default_batch: int = _limit("sequences per optimizer step")
    default_activation_checkpointing: str = meta(required=True, choices=("auto", "on", "off"))
    default_lora_rank: int = _limit("rank")
    default_ecosystem: str = meta(required=True)
    default_deployment: str = meta(required=True)
    default_hours_per_day: int = _limit("hours/day")
    scale_team_min_params: int = _limit("parameters")
    scale_enterprise_min_params: int = _limit("parameters")
    team_max_concurrency: int = _limit("sequences")
    # what fits
    fit_headroom: float = _limit("fraction of usable memory")
    comfortable_utilization: float = _limit("fraction of usable memory")
    best_max_utilization: float = _limit("fraction of usable memory")
    best_speed_tie: float = _limit("fraction of decode speed")
    device_counts: tuple[int, ...] = _limit("devices")
    max_devices_personal: int = _limit("devices")
    max_devices_team: int = _limit("devices")
    max_devices_enterprise: int = _limit("devices")
    auto_inference_precisions: tuple[str, ...] = meta(required=True)
    serving_engine_above_users: int = _limit("concurrent users")
    quality_floor_minimum: str = meta(required=True, choices=QUALITY_CLASSES)
    quality_floor_recommended: str = meta(required=True, choices=QUALITY_CLASSES)
    low_bit_warning_bits: float = _limit("bits per weight")
    # speed
    bandwidth_efficiency_gpu: float = _limit("fraction of peak bandwidth")
    bandwidth_efficiency_unified: float = _limit("fraction of peak bandwidth")
    bandwidth_efficiency_cpu: float = _limit("fraction of peak bandwidth")
    bandwidth_efficiency_tpu: float = _limit("fraction of peak bandwidth")
    bandwidth_efficiency_npu: float = _limit("fraction of peak bandwidth")
    compute_efficiency: float = _limit("fraction of dense peak")
    training_mfu: float = _limit("fraction of dense peak")
    link_latency_s: dict[str, float] = meta(required=True, unit="seconds per all-reduce")
    min_tokens_per_s: float = _limit("tokens/s per user")
    target_tokens_per_s: float = _limit("tokens/s per user")
    tp_over_pcie_max: int = _limit("devices")
    min_compute_capability: dict[str, float] = meta(required=True, unit="CUDA compute capability per runtime")
    # fixed decode costs per runtime (or "runtime@ecosystem"), fitted on calibration.yaml: sizing.StepOverhead
    decode_layer_overhead_s: dict[str, float] = meta(required=True, unit="seconds per layer per decode step")
    decode_moe_layer_overhead_s: dict[str, float] = meta(required=True, unit="seconds per MoE layer per decode step")
    decode_sequence_layer_overhead_s: dict[str, float] = meta(required=True, unit="seconds per layer per sequence")
    # money
    electricity_usd_per_kwh: float = _limit("USD/kWh")
    ownership_years: float = _limit("years")
    p1_max_utilization: float = _limit("fraction of memory")
    p1_min_speed_gain: float = _limit("ratio of total tokens/s")
    p1_min_waste_usd: float = _limit("USD")
    recommended_max_premium: float = _limit("ratio of purchase or rental cost")
    price_max_age_months: int = _limit("months")
    max_check_devices: int = _limit("devices")
    # host: CPU, RAM, storage (pitfall P2)
    host_cores_per_device: int = _limit("CPU cores per accelerator")
    host_users_per_core: int = _limit("concurrent users per core")
    host_min_cores_cpu_inference: int = _limit("cores")
    host_os_reserve_bytes: int = _limit("bytes")
    host_ram_per_weights: float = _limit("times weight bytes")
    host_isa_required: str = meta(required=True)
    nvme_gbs: float = _limit("GB/s")
    sata_gbs: float = _limit("GB/s")
    slow_load_seconds: float = _limit("seconds")
    # processor roles
    cpu_max_params_interactive: int = _limit("parameters")
    npu_max_params: int = _limit("parameters")
    fp8_kv_min_share: float = _limit("fraction of the memory need")
    checkpointing_min_saving_share: float = _limit("fraction of the peak")
    p3_alternative_min_speed_share: float = _limit("fraction of the TPU option's speed")
    article_4bit_bits: tuple[float, float] = _limit("bits per weight")
    moe_offload_link_gbs: float = _limit("GB/s")
    # the article's claims that the product checks
    article_70b_claim_bytes: int = _limit("bytes")
    article_70b_params: tuple[int, int] = _limit("parameters")
    article_32b_claim_bytes: int = _limit("bytes")
    article_32b_params: tuple[int, int] = _limit("parameters")
    article_7b_claim_bytes: int = _limit("bytes")
    article_7b_params: tuple[int, int] = _limit("parameters")
    article_4bit_saving: float = _limit("fraction")
    article_zero3_saving: float = _limit("fraction")
    article_mac_bytes: int = _limit("bytes")
    # upgrade advice (recommend --have)
    upgrade_host_gpus: int = _limit("GPUs")
    upgrade_reference_host: str = meta(required=True)
    upgrade_ram_usd_per_gb: float = _limit("USD/GB")
    # scale-out: the network between nodes (planner.layouts) and the runtimes that place experts whole on devices
    node_network: dict[str, str] = meta(required=True, unit="network name per device interconnect")
    node_network_gbs: dict[str, float] = meta(required=True, unit="GB/s per direction")
    node_network_latency_s: dict[str, float] = meta(required=True, unit="seconds per message")
    expert_parallel_runtimes: tuple[str, ...] = meta(required=True)
    dp_attention_runtimes: tuple[str, ...] = meta(required=True)
    # hybrid CPU+GPU: routed experts or whole layers in host RAM, computed by the host CPU (engine/hybrid.py)
    default_offload: str = meta(required=True, choices=("auto", "none", "experts", "layers"))
    hybrid_runtime: str = meta(required=True)
    hybrid_cpu_bandwidth_efficiency: float = _limit("fraction of peak host memory bandwidth")
    hybrid_layer_overhead_s: float = _limit("seconds per offloaded layer per decode step")
    hybrid_prefill_batch_tokens: int = _limit("tokens")
    # the host box's power supply: the GPUs' board power and its CPU's within this share of its rating (planner host_for)
    host_psu_max_load: float = _limit("fraction of the power supply's rating")
    # prompt processing: a CPU's compute figure is an achieved llama.cpp rate; the prompt the tiers time, and its target
    compute_efficiency_cpu: float = _limit("fraction of the CPU's compute figure")
    ttft_prompt_tokens: int = _limit("tokens")
    target_ttft_s: float = _limit("seconds to the first token")
    # whole systems (HGX servers, NVL72 racks): how many of them a purchase of a part sold only that way brings
    system_counts: tuple[int, ...] = _limit("whole systems per purchase")
