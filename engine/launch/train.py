"""Training launch plans: accelerate + TRL's SFT script with a DeepSpeed ZeRO config, Unsloth's API, MaxText on TPU."""

from __future__ import annotations

import json
import shlex
from typing import Any

from ..knowledge.loader import Catalog
from ..knowledge.runtime_schema import Runtime
from ..knowledge.schema import Model
from ..planner.options import Option, Workload
from . import Args, Builder, Launch, LaunchFile, Setting, hosts, hub_id

DATASET = "your-org/your-dataset"  # the user's data: a placeholder the command cannot guess
COMPUTE_IN_16BIT = ("bf16", "fp16", "nf4")  # QLoRA computes in 16-bit over its NF4 base (qlora-paper)
PEFT_TASKS = ("lora", "qlora")


def _micro(args: Args, option: Option, w: Workload) -> None:
    args.set("micro_batch", option.micro_batch, f"plan: micro-batch {option.micro_batch}, the largest that fits")
    steps, micro = option.accumulation_steps, option.micro_batch
    args.set("accumulation", steps, f"plan: {steps} steps x micro-batch {micro}" + (
        f" on each of {option.count} devices (a global batch of {steps * micro * option.count})" if option.count > 1
        else f" reach the batch of {w.batch}"))


def _autocast(option: Option, catalog: Catalog) -> str | None:
    """The 16-bit mixed precision a run computes in: BF16, or FP16 with loss scaling on a card without BF16 (a V100
    or a T4 has FP16 tensor cores only, and `--bf16 true` fails there); None for a run that computes in 32-bit."""
    if option.precision not in COMPUTE_IN_16BIT:
        return None
    return "bf16" if "bf16" in catalog.accelerators[option.hardware].features else "fp16"


def _deepspeed_config(args: Args) -> str:
    """The DeepSpeed config JSON from the settings made on ``args`` (dotted keys become nested objects)."""
    config: dict[str, Any] = {}
    for s in args.settings:
        node = config
        *path, leaf = s.flag.split(".")
        for key in path:
            node = node.setdefault(key, {})
        node[leaf] = _json_value(s.value)
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def _json_value(value: str | None) -> object:
    if value in ("true", "false"):
        return value == "true"
    return int(value) if value is not None and value.isdigit() else value


def trl_sft(option: Option, w: Workload, model: Model, runtime: Runtime, catalog: Catalog) -> Launch:
    """`accelerate launch -m trl.scripts.sft` with the plan's micro-batch, accumulation, recomputation and LoRA; a
    DeepSpeed ZeRO config file when the plan shards over several devices."""
    launcher, sft, ds = runtime.tool("accelerate"), runtime.tool("trl-sft"), runtime.tool("deepspeed-config")
    assert launcher is not None and sft is not None and ds is not None
    layout = option.layout
    outer = Args(launcher)
    outer.set("processes", option.count, f"layout: {option.count} device(s), one process each")
    machines = hosts(option, catalog)
    machine = "node" if machines == layout.nodes else "host"
    if machines > 1:
        outer.set("machines", machines, f"layout: {machines} {machine}s")
    outer.set("module", None, f"run {sft.command}, TRL's supervised fine-tuning script, as a Python module")
    inner = Args(sft)
    inner.set("model", hub_id(model), f"model: {model.name}")
    inner.set("dataset", DATASET, "your data (a Hub dataset id or a local folder)")
    _micro(inner, option, w)
    # Both said either way: TRL's SFT defaults turn recomputation and BF16 on (trl-cli), which the plan may not assume.
    inner.set("checkpointing", _flag(option.checkpointing), "plan: activation checkpointing on (recompute each layer in the backward pass)"
              if option.checkpointing else "plan: no recomputation needed (TRL's SFT turns it on by default)")
    autocast = _autocast(option, catalog)
    inner.set("bf16", _flag(autocast == "bf16"), f"precision: {option.precision} weights, " + (
        "BF16 mixed-precision compute" if autocast == "bf16" else "the device has no BF16" if autocast else "no BF16 autocast"))
    if autocast == "fp16":
        inner.set("fp16", _flag(True), "precision: FP16 mixed precision with loss scaling (the device computes FP16, not BF16)")
    inner.set("context", w.context, f"workload: {w.context:,} tokens per sequence")
    if w.task in PEFT_TASKS:
        inner.set("peft", None, f"task: {w.task} trains LoRA adapters only")
        inner.set("lora_rank", w.lora_rank, f"workload: LoRA rank {w.lora_rank}")
    if w.task == "qlora":
        inner.set("four_bit", None, "task: qlora keeps the frozen base in 4-bit NF4")
    files: tuple[LaunchFile, ...] = ()
    config = Args(ds)
    if option.zero_stage:
        _micro(config, option, w)
        config.set("zero_stage", option.zero_stage, f"plan: ZeRO stage {option.zero_stage} shards the model states over {option.count} devices")
        if autocast:
            config.set(autocast, "true", f"precision: {autocast.upper()} mixed precision")
        if layout.offload != "none":
            config.set("offload_optimizer", "cpu", f"layout: offload {layout.offload}: the optimizer states live in host RAM")
        if layout.offload == "layers":
            config.set("offload_param", "cpu", "layout: the parameters live in host RAM between uses")
        files = (LaunchFile(ds.command, _deepspeed_config(config)),)
        inner.set("deepspeed", ds.command, f"plan: ZeRO stage {option.zero_stage}, the settings of {ds.command}")
    command = outer.command() + " " + shlex.join([sft.command, *inner.argv()])
    note = (f"Run the command on each of the {machines} {machine}s with its --machine_rank and the first {machine}'s "
            "--main_process_ip (accelerate launch)." if machines > 1 else "")
    settings: tuple[Setting, ...] = (*outer.settings, *inner.settings, *config.settings)
    return Launch(runtime.id, (command,), settings, files, note, {**outer.numbers, **config.numbers, **inner.numbers})


def unsloth(option: Option, w: Workload, model: Model, runtime: Runtime, catalog: Catalog) -> Launch:
    """Unsloth's Python API settings: no command exists, so the plan is the arguments of its documented calls."""
    tool = runtime.tool("unsloth")
    assert tool is not None
    args = Args(tool)
    args.set("model", hub_id(model), f"model: {model.name}")
    args.set("context", w.context, f"workload: {w.context:,} tokens per sequence")
    args.set("four_bit", w.task == "qlora", "task: qlora keeps the frozen base in 4-bit NF4" if w.task == "qlora"
             else f"task: {w.task} keeps the base at {option.precision}")
    if w.task in PEFT_TASKS:
        args.set("lora_rank", w.lora_rank, f"workload: LoRA rank {w.lora_rank}")
        args.set("checkpointing", "unsloth" if option.checkpointing else False,
                 "plan: recomputation on, with the checkpoints offloaded to host RAM" if option.checkpointing
                 else "plan: no recomputation needed")
    else:
        args.set("full_finetuning", True, f"task: {w.task} updates every weight")
    _micro(args, option, w)
    values = {s.flag: s.value for s in args.settings}

    def kw(*names: str) -> str:
        return ", ".join(f"{n}={_python(values[n])}" for n in names if n in values)

    lines = ["from unsloth import FastLanguageModel", "from trl import SFTConfig",
             f"model, tokenizer = FastLanguageModel.from_pretrained({kw('model_name', 'max_seq_length', 'load_in_4bit', 'full_finetuning')})"]
    if w.task in PEFT_TASKS:
        lines.append(f"model = FastLanguageModel.get_peft_model(model, {kw('r', 'use_gradient_checkpointing')})")
    lines.append(f"args = SFTConfig({kw('per_device_train_batch_size', 'gradient_accumulation_steps')})")
    return Launch(runtime.id, (), tuple(args.settings), (LaunchFile("unsloth settings (Python)", "\n".join(lines) + "\n"),),
                  runtime.launch_note, args.numbers)


def _flag(on: bool) -> str:
    """A boolean option's value as HfArgumentParser reads it."""
    return "true" if on else "false"


def _python(value: str | None) -> str:
    """A setting's value as Python source: numbers and booleans bare, text quoted."""
    if value in ("True", "False") or (value or "").isdigit():
        return str(value)
    return repr(value)


def maxtext(option: Option, w: Workload, model: Model, runtime: Runtime, catalog: Catalog) -> Launch:
    """MaxText's trainer with the plan's per-chip batch, accumulation, recomputation and FSDP over the slice."""
    tool = runtime.tool("maxtext")
    assert tool is not None
    args = Args(tool)
    args.set("run_name", f"llmhw-{model.id}", "a name for the run's checkpoints and logs")
    args.set("context", w.context, f"workload: {w.context:,} tokens per sequence")
    _micro(args, option, w)
    args.set("checkpointing", "full" if option.checkpointing else "minimal",
             "plan: recompute every layer" if option.checkpointing else "plan: keep activations (no recomputation needed)")
    args.set("fsdp", option.count, f"layout: the model states sharded over the {option.count} chips (ZeRO-3-like)")
    note = (f"Add model_name= for {model.name} from MaxText's src/MaxText/configs/models (its own names), and point "
            "dataset_path= at your data.")
    return Launch(runtime.id, (args.command(),), tuple(args.settings), note=note, numbers=args.numbers)


TRAINERS: dict[str, Builder] = {"accelerate": trl_sft, "unsloth": unsloth, "maxtext": maxtext}
