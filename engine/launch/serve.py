"""Serving launch plans: vLLM (and vLLM TPU), llama.cpp's llama-server, TensorRT-LLM's trtllm-serve, mlx-lm's server."""

from __future__ import annotations

import math
import re

from ..knowledge.loader import Catalog
from ..knowledge.runtime_schema import Runtime
from ..knowledge.schema import Model
from ..planner.options import Option, Workload
from . import Args, Builder, Launch, LaunchFile, hosts, hub_id, replicas_note

LLAMA_SERVER_PORT = 8080  # llama-server's default --port (llamacpp-server-args); replicas take the next ones
MLX_SERVER_PORT = 8080  # mlx_lm.server's default --port (mlx-lm-server)
TRTLLM_SERVE_PORT = 8000  # trtllm-serve's default --port (trtllm-serve-args)
TRTLLM_OPTIONS_FILE = "extra-llm-api-config.yml"  # its LLM API options file, named as NVIDIA's examples do (trtllm-r1-serve-example)
# vLLM's --dtype names for the 16- and 32-bit formats (vllm-serve-args: {auto,half,float16,bfloat16,float,float32})
VLLM_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
# Formats vLLM quantizes a 16-bit checkpoint to at load time: `--quantization fp8` (vllm-serve-args); any other
# quantized format is served from a checkpoint already quantized to it, whose config names the method.
VLLM_ONLINE_QUANTIZATION = {"fp8": "fp8"}


def _parallel(args: Args, option: Option) -> None:
    """Tensor, pipeline and expert parallel sizes of one replica, from the plan's layout."""
    layout = option.layout
    if layout.tensor_parallel > 1:
        args.set("tensor_parallel", layout.tensor_parallel,
                 f"layout: tensor parallel {layout.tensor_parallel} (every layer split over {layout.tensor_parallel} devices)")
    if layout.pipeline_parallel > 1:
        args.set("pipeline_parallel", layout.pipeline_parallel,
                 f"layout: pipeline parallel {layout.pipeline_parallel} (consecutive layers per stage"
                 + (f", stages across {layout.nodes} nodes)" if layout.nodes > 1 else ")"))


def _sequences(option: Option, w: Workload) -> int:
    """Concurrent sequences one replica serves: the workload's users shared among the data-parallel replicas."""
    return math.ceil(w.concurrency / option.layout.data_parallel)


def _checkpoint(option: Option, w: Workload, model: Model) -> tuple[str, str]:
    """The model argument of a checkpoint-serving engine, and what to know when it must be a quantized copy."""
    if option.precision == model.native_precision or option.precision in VLLM_DTYPES or option.precision in VLLM_ONLINE_QUANTIZATION:
        return hub_id(model), ""
    local = f"./{model.id}-{option.precision}"
    return local, (f"{local} stands for a checkpoint of {model.name} already quantized to {option.precision} "
                   "(the engine reads the method from its config): the plan's memory assumes that format.")


def vllm(option: Option, w: Workload, model: Model, runtime: Runtime, catalog: Catalog) -> Launch:
    """`vllm serve MODEL` with the layout, context, users and memory share of the plan."""
    tool = runtime.tool("vllm-serve")
    assert tool is not None
    args = Args(tool)
    layout = option.layout
    _parallel(args, option)
    ranks = "data-parallel attention ranks" if layout.dp_attention else "replicas"
    if layout.dp_attention:
        args.set("data_parallel", layout.data_parallel,
                 f"layout: attention data-parallel over {layout.data_parallel} ranks, each holding only its own users' MLA cache")
    elif layout.data_parallel > 1:
        args.set("data_parallel", layout.data_parallel, f"layout: {layout.data_parallel} data-parallel replicas, each serving its own users")
    if layout.expert_parallel > 1:
        args.set("expert_parallel", None, f"layout: expert parallel {layout.expert_parallel} (vLLM spreads the routed experts "
                 "over tensor x data parallel ranks)")
    args.set("context", w.context, f"workload: {w.context:,} tokens per sequence")
    args.set("sequences", _sequences(option, w),
             f"workload: {w.concurrency} concurrent user(s)" + (f" over {layout.data_parallel} {ranks}" if layout.data_parallel > 1 else ""))
    args.set("memory_fraction", runtime.memory_fraction,
             f"runtime: the plan sized {runtime.memory_fraction:g} of each device's memory for weights, KV cache and overhead")
    if option.precision != model.native_precision and option.precision in VLLM_DTYPES:
        args.set("dtype", VLLM_DTYPES[option.precision], f"precision: weights at {option.precision} (released as {model.native_precision})")
    if option.precision != model.native_precision and option.precision in VLLM_ONLINE_QUANTIZATION:
        args.set("quantization", VLLM_ONLINE_QUANTIZATION[option.precision],
                 f"precision: {option.precision} weights, quantized at load from the {model.native_precision} release")
    checkpoint, note = _checkpoint(option, w, model)
    machines = hosts(option, catalog)
    if machines > 1:
        note += (f" The {machines} {'nodes' if machines == layout.nodes else 'hosts'} form one Ray cluster (`ray start --head` "
                 "on the first, `ray start --address` on the others); run the command on the head node.")
    return Launch(runtime.id, (args.command(checkpoint),), tuple(args.settings), note=note.strip(), numbers=args.numbers)


def _gguf_name(model: Model, precision: str) -> str:
    """A GGUF file name as the Hub's GGUF repositories write them: the model's name, then the format in capitals."""
    return f"./{re.sub(r'[^A-Za-z0-9._]+', '-', model.name).strip('-')}-{precision.upper()}.gguf"


def gpu_layers(option: Option, model: Model, catalog: Catalog) -> int:
    """Layers llama.cpp keeps on the GPUs (-ngl). None on a CPU box; else all of them, and the output layer llama.cpp
    counts as one more, unless the layout offloads layers: then those the hybrid placement leaves on the GPU (or,
    without one, those whose weights fit beside the rest of the per-device need)."""
    if catalog.accelerators[option.hardware].kind == "cpu":
        return 0
    if option.layout.offload != "layers":
        return model.layers + 1
    if option.host_part is not None:
        return option.host_part.placement.layers - option.host_part.placement.offloaded_layers
    memory = option.memory
    room = option.usable_bytes - (memory.total - memory.weights)
    share = min(1.0, max(0.0, room / memory.weights)) if memory.weights else 1.0
    return math.floor(model.layers * share)


def llama_server(option: Option, w: Workload, model: Model, runtime: Runtime, catalog: Catalog) -> Launch:
    """`llama-server -m FILE.gguf` with the layers on the GPUs, the slots and their shared context, the split."""
    tool = runtime.tool("llama-server")
    assert tool is not None
    layout = option.layout
    slots = _sequences(option, w)
    per_replica = layout.tensor_parallel * layout.pipeline_parallel
    commands = []
    for replica in range(layout.data_parallel):
        args = Args(tool)
        args.set("model_file", _gguf_name(model, option.precision), f"precision: {option.precision} GGUF of {model.name}")
        ngl = gpu_layers(option, model, catalog)
        args.set("gpu_layers", ngl, f"all {model.layers} layers and the output layer on the GPU" if ngl > model.layers
                 else "a CPU box: every layer runs on the CPU" if ngl == 0
                 else f"layout: {ngl} of {model.layers} layers fit on the GPU, the rest stay in host RAM")
        if layout.offload == "experts":
            moe = option.host_part.placement.offloaded_layers if option.host_part is not None else model.layers
            args.set("cpu_moe", moe, f"placement: the routed experts of {moe} of the {model.layers} layers stay in host RAM")
        args.set("context", w.context * slots, f"workload: {w.context:,} tokens x {slots} slot(s); llama-server splits -c among its slots")
        args.set("sequences", slots, f"workload: {w.concurrency} concurrent user(s)"
                 + (f" over {layout.data_parallel} replicas" if layout.data_parallel > 1 else ""))
        if per_replica > 1:
            mode = "row" if layout.tensor_parallel > 1 else "layer"
            args.set("split_mode", mode, f"layout: {'tensor' if mode == 'row' else 'pipeline'} parallel {per_replica}")
            args.set("tensor_split", ",".join(["1"] * per_replica), f"an equal share of the model on each of the {per_replica} devices")
        if layout.data_parallel > 1:
            args.set("port", LLAMA_SERVER_PORT + replica, f"replica {replica + 1} of {layout.data_parallel}")
        commands.append(args.command())
    note = replicas_note(layout.data_parallel, per_replica, tool.flag("port").flag)
    return Launch(runtime.id, tuple(commands), tuple(args.settings), note=note, numbers=args.numbers)


def trtllm_serve(option: Option, w: Workload, model: Model, runtime: Runtime, catalog: Catalog) -> Launch:
    """`trtllm-serve MODEL` with the layout, batch and sequence limits and the KV cache's memory share."""
    tool = runtime.tool("trtllm-serve")
    assert tool is not None
    layout = option.layout
    checkpoint, note = _checkpoint(option, w, model)
    if layout.dp_attention:
        return _trtllm_attention_dp(option, w, runtime, checkpoint, note)
    commands = []
    for replica in range(layout.data_parallel):
        args = Args(tool)
        _parallel(args, option)
        if layout.expert_parallel > 1:
            args.set("expert_parallel", layout.expert_parallel, f"layout: expert parallel {layout.expert_parallel}")
        args.set("sequences", _sequences(option, w), f"workload: {w.concurrency} concurrent user(s)"
                 + (f" over {layout.data_parallel} replicas" if layout.data_parallel > 1 else ""))
        _trtllm_sizes(args, w, runtime)
        if layout.data_parallel > 1:
            args.set("port", TRTLLM_SERVE_PORT + replica, f"replica {replica + 1} of {layout.data_parallel}")
        commands.append(args.command(checkpoint))
    note = " ".join(n for n in (note, replicas_note(layout.data_parallel, layout.tensor_parallel * layout.pipeline_parallel,
                                                    tool.flag("port").flag)) if n)
    return Launch(runtime.id, tuple(commands), tuple(args.settings), note=note, numbers=args.numbers)


def _trtllm_sizes(args: Args, w: Workload, runtime: Runtime) -> None:
    """What every `trtllm-serve` of a plan is sized with: the context, the prompt tokens per step, the KV cache's share."""
    args.set("context", w.context, f"workload: {w.context:,} tokens per sequence")
    if runtime.prefill_chunk_tokens:
        args.set("batched_tokens", runtime.prefill_chunk_tokens,
                 f"runtime: the plan sized activations for {runtime.prefill_chunk_tokens:,} prompt tokens per step")
    args.set("memory_fraction", runtime.memory_fraction,
             f"runtime: the plan gives the KV cache {runtime.memory_fraction:g} of the memory left after the weights")


def _trtllm_attention_dp(option: Option, w: Workload, runtime: Runtime, checkpoint: str, note: str) -> Launch:
    """One `trtllm-serve` over all the ranks: tensor and expert parallel as wide as the layout, the attention made
    data-parallel by its LLM API options file (enable_attention_dp), --max_batch_size per rank."""
    tool = runtime.tool("trtllm-serve")
    assert tool is not None
    ranks = option.layout.data_parallel
    args = Args(tool)
    args.set("tensor_parallel", ranks, f"layout: {ranks} ranks (the attention data-parallel over them, by {TRTLLM_OPTIONS_FILE})")
    args.set("expert_parallel", ranks, f"layout: expert parallel {ranks}, the routed experts spread over every rank")
    args.set("sequences", _sequences(option, w), f"workload: {w.concurrency} concurrent user(s) over {ranks} data-parallel attention ranks")
    _trtllm_sizes(args, w, runtime)
    args.set("llm_api_options", TRTLLM_OPTIONS_FILE,
             f"layout: attention data-parallel over {ranks} ranks, each holding only its own users' MLA cache")
    files = (LaunchFile(TRTLLM_OPTIONS_FILE, "enable_attention_dp: true\n"),)
    return Launch(runtime.id, (args.command(checkpoint),), tuple(args.settings), files, note=note, numbers=args.numbers)


def mlx_server(option: Option, w: Workload, model: Model, runtime: Runtime, catalog: Catalog) -> Launch:
    """`mlx_lm.server --model MODEL`: it has no context, users or memory option, so the note says what bounds them."""
    tool = runtime.tool("mlx-lm-server")
    assert tool is not None
    layout = option.layout
    commands = []
    for replica in range(layout.data_parallel):
        args = Args(tool)
        args.set("model", hub_id(model), f"precision: {option.precision}, the release of {model.name}")
        if layout.data_parallel > 1:
            args.set("port", MLX_SERVER_PORT + replica, f"replica {replica + 1} of {layout.data_parallel}")
        commands.append(args.command())
    note = (f"mlx_lm.server takes no context, users or memory option: it serves one request at a time and its KV cache grows "
            f"with each; the plan holds {w.context:,} tokens for {w.concurrency} user(s) within macOS's GPU working-set limit.")
    return Launch(runtime.id, tuple(commands), tuple(args.settings), note=note, numbers=args.numbers)


SERVERS: dict[str, Builder] = {"vllm-serve": vllm, "llama-server": llama_server, "trtllm-serve": trtllm_serve,
                               "mlx-lm-server": mlx_server}
