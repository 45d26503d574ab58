"""CAL: speeds the user measured on their own machine (`llmhw calibrate`), and what they change in an answer."""

from __future__ import annotations

from experta import AS

from ..facts import Note, Recommendation, Workload
from ..planner.measured import measured_runs, speed_factor
from ..units import Phrase
from . import SALIENCE_ADVICE, Host, Rule, listed, rule_meta, subject


class CalibrationRules:
    @Rule(AS.workload << Workload(task="inference"), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="CAL-measured-speed",
               statement="{hardware} under {runtime}: decode estimates scaled x{factor:.2f} by {count} measurement(s) on this machine",
               message="The decode speeds of {hardware} under {runtime} are scaled by x{factor:.2f}, your measurement over llmhw's "
               "estimate: {measured}.",
               sources=["llmhw-assumption"], needs=("model",))
    def measured_speed(self: Host, workload: Workload, rec: Recommendation) -> None:
        """## What it decides
        When the configuration under discussion runs on a device and runtime the user measured (`llmhw calibrate`,
        a --knowledge directory): the factor its decode speeds were scaled by, and the measurements behind it.

        ## Why
        A measurement on the user's own machine beats any published figure for that machine: its drivers, clocks,
        cooling and build. The answer says which numbers it changed and why, citing each measurement.

        ## Example
        llama-bench measured Qwen2.5-7B Q4_K_M at 118.9 tok/s on an RTX 4080 where llmhw estimated 114.3: its
        estimates on that card under llama.cpp are scaled by x1.04.

        ## Limits
        One factor per device and runtime (the geometric mean of its measurements), applied to every model and
        format on it.
        """
        option = self.option(rec)
        accel, runtime = self.catalog.accelerators[option.hardware], self.catalog.runtimes[option.runtime]
        runs = measured_runs(accel, runtime, self.catalog)
        if not runs:
            return  # nothing measured on this device and runtime: the estimate stands as the speed model gives it
        measured = listed([Phrase("{quote} ({engine}; source {source})", quote=r.quote, engine=r.engine, source=r.sources[0])
                           for r in runs])
        self.conclude(Note(effect_factor=round(speed_factor(accel, runtime, self.catalog), 4)), hardware=accel.name,
                      runtime=runtime.id, factor=speed_factor(accel, runtime, self.catalog), count=len(runs), measured=measured)
