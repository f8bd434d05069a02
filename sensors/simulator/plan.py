"""Which virtual sensors a run has: facilities of the registry, their profiles and sensor ids. Pure.

The profile comes from the command line (`--profile FACILITY=PROFILE`, then `--profile PROFILE` for all), else
from the registry's `simulation: {profile: ..., sensors: N}` key, else `normal`. `clone_of` names the facility
whose readings it republishes: `clone_of:SOURCE` on the command line, `source: SOURCE` in the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from facmon.core.errors import ConfigError
from sensors.contract import is_valid_id
from sensors.registry import Facility, Registry
from sensors.simulator.profiles import CLONE, DEFAULT_PROFILE, PROFILES, Profile, rhythm_for

SIMULATION_KEYS = frozenset({"profile", "sensors", "noise", "source"})
MAX_SENSORS = 50


class SimulationError(ConfigError, ValueError):
    """A profile, facility or sensor setting the simulator cannot use."""


@dataclass(frozen=True, slots=True)
class SimSensor:
    """One virtual sensor: its facility, id, profile, and its share of the facility's visitors."""

    facility: Facility
    sensor: str
    index: int
    count: int
    profile: Profile
    noise: float = 0.25
    source: SimSensor | None = None  # clone_of: the sensor whose readings this one republishes

    @property
    def capacity(self) -> int:
        """The sensor's part of the facility's capacity (the parts add up to it)."""
        base, extra = divmod(self.facility.capacity, self.count)
        return base + (self.index < extra)



def split_profile(name: str) -> tuple[str, str | None]:
    """`clone_of:SOURCE` -> ("clone_of", "SOURCE"); a name without `:` has no source."""
    base, colon, source = name.partition(":")
    return base, source if colon else None


def check_choice(facility: str | None, name: str, registry: Registry | None = None) -> None:
    """A command-line profile choice, `facility` None for all: SimulationError says what is wrong with it."""
    base, source = split_profile(name)
    flag = f"--profile {facility}={name}" if facility else f"--profile {name}"
    if base not in PROFILES:
        raise SimulationError(f"unknown profile {base!r}; use one of {', '.join(PROFILES)}")
    if base != CLONE:
        if source is not None:
            raise SimulationError(f"{flag}: only {CLONE} takes a facility after ':'")
    elif facility is None:
        raise SimulationError(f"{flag}: {CLONE} copies one facility into another: --profile FACILITY={CLONE}:SOURCE")
    elif not source:
        raise SimulationError(f"{flag}: {CLONE} needs the facility whose readings it republishes: "
                              f"--profile {facility}={CLONE}:SOURCE")
    elif not is_valid_id(source):
        raise SimulationError(f"{flag}: {source!r} is not a facility id")
    elif source == facility:
        raise SimulationError(f"{flag}: a facility cannot be a clone of itself")
    if registry is not None:
        for fid in (facility, source):
            if fid and fid not in registry:
                raise SimulationError(f"{flag}: no facility {fid!r} in the registry")


def plan(registry: Registry, profile: str | None = None, overrides: Mapping[str, str] | None = None,
         only: set[str] | None = None) -> tuple[list[SimSensor], list[str]]:
    """The virtual sensors of a registry and warnings about its `simulation:` keys.

    Profile: `overrides[facility]`, else `profile` (the command line's, for all), else the registry's, else normal.
    Command-line mistakes raise SimulationError; registry ones are warnings, and the facility is simulated normal.
    """
    overrides = dict(overrides or {})
    for fid, name in {**overrides, "": profile or DEFAULT_PROFILE}.items():
        check_choice(fid or None, name, registry)
    unknown = sorted((only or set()) - {f.id for f in registry})
    if unknown:
        raise SimulationError(f"no facility {', '.join(map(repr, unknown))} in the registry")
    included = [f for f in registry if not only or f.id in only]
    warnings: dict[str, list[str]] = {f.id: [] for f in included}
    chosen = {f.id: _choose(f, overrides.get(f.id) or profile, registry, warnings.get(f.id, [])) for f in registry}
    for fid, (name, source) in chosen.items():  # a source is simulated with its own profile, so not as a clone
        if source is not None and chosen[source][1] is not None:
            if fid in overrides:
                raise SimulationError(f"--profile {fid}={name}:{source}: {source} is itself a clone")
            warnings.get(fid, []).append(f"{fid}: simulation.source {source} is itself a clone; "
                                         f"using {DEFAULT_PROFILE}")
            chosen[fid] = (DEFAULT_PROFILE, None)
    sensors: list[SimSensor] = []
    for facility in included:
        name, source = chosen[facility.id]
        own = _sensors(facility, PROFILES[name], warnings[facility.id])
        if source is not None:
            copied = _sensors(registry.by_id[source], PROFILES[chosen[source][0]], [])
            own = [replace(sensor, source=copied[sensor.index % len(copied)]) for sensor in own]
        sensors += own
    return sensors, [w for f in included for w in warnings[f.id]]


def _choose(facility: Facility, given: str | None, registry: Registry, warnings: list[str]) -> tuple[str, str | None]:
    """(profile, clone source) for a facility: the command line's choice (already checked), else the registry's."""
    sim = facility.simulation or {}
    for key in sorted(set(sim) - SIMULATION_KEYS):
        warnings.append(f"{facility.id}: simulation.{key} is not a simulator setting; ignored")
    if given:
        return split_profile(given)
    name, source = sim.get("profile") or DEFAULT_PROFILE, sim.get("source")
    if name not in PROFILES:
        warnings.append(f"{facility.id}: unknown simulation profile {name!r}; using {DEFAULT_PROFILE}")
        return DEFAULT_PROFILE, None
    if name != CLONE:
        if source is not None:
            warnings.append(f"{facility.id}: simulation.source is only for {CLONE}; ignored")
        return name, None
    if not isinstance(source, str) or source not in registry or source == facility.id:
        warnings.append(f"{facility.id}: {CLONE} needs simulation.source, the id of another facility in the "
                        f"registry (got {source!r}); using {DEFAULT_PROFILE}")
        return DEFAULT_PROFILE, None
    return name, source


def _sensors(facility: Facility, profile: Profile, warnings: list[str]) -> list[SimSensor]:
    """The facility's virtual sensors with this profile (no clone source yet)."""
    sim = facility.simulation or {}
    noise = sim.get("noise", 0.25)
    if isinstance(noise, bool) or not isinstance(noise, int | float) or not 0 <= noise <= 0.9:
        warnings.append(f"{facility.id}: simulation.noise must be a number from 0 to 0.9; using 0.25")
        noise = 0.25
    ids = _sensor_ids(facility, sim.get("sensors", 1))
    return [SimSensor(facility, sid, i, len(ids), profile, float(noise)) for i, sid in enumerate(ids)]


def _sensor_ids(facility: Facility, value: object) -> list[str]:
    """`sensors: 3` (named door-1.. after the type) or `sensors: [east, west]`."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SENSORS:
        return [f"{rhythm_for(facility.type).sensor_name}-{n}" for n in range(1, value + 1)]
    if isinstance(value, list) and value and all(is_valid_id(v) for v in value) and len(set(value)) == len(value):
        return list(value)
    raise SimulationError(f"{facility.id}: simulation.sensors must be 1 to {MAX_SENSORS} or a list of distinct "
                          f"sensor ids (got {value!r})")
