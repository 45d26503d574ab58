"""This machine: probes for GPUs (NVIDIA, AMD, Apple), CPU, RAM and disks, giving plain dataclasses.

The probes import nothing from the engine; ``match`` reads the knowledge catalog to name each GPU's entry.
"""

from __future__ import annotations

from .detect import NO_GPU as NO_GPU
from .detect import detect as detect
from .detect import this_hardware as this_hardware
from .profile import Cpu as Cpu
from .profile import Disk as Disk
from .profile import Gpu as Gpu
from .profile import MachineProfile as MachineProfile
