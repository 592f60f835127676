"""Facility power, energy, carbon and money."""

from __future__ import annotations

JOULES_PER_KWH = 3.6e6


def it_watts(accelerators, tdp, overhead):
    """IT power of a cluster: accelerators plus the rest of the IT load.

    Formula: n * TDP * (1 + overhead)
    Convention: accelerators draw their full board power (an upper bound for a
    busy job); overhead covers host CPUs, memory, network and storage.
    Source: NVIDIA DGX H100 / GB200 NVL72 datasheets (system power vs GPU power).
    """
    return accelerators * tdp * (1 + overhead)


def facility_watts(it_power, pue):
    """Power the facility draws from the grid.

    Formula: IT power * PUE
    Source: The Green Grid, "PUE: A Comprehensive Examination of the Metric" (2012).
    """
    return it_power * pue


def energy_kwh(watts, seconds):
    """Energy of a constant power over a duration, in kWh.

    Formula: W * s / 3.6e6
    Source: definition (1 kWh = 3.6 MJ).
    """
    return watts * seconds / JOULES_PER_KWH


def co2_kg(kwh, carbon_intensity):
    """Operational CO2e of the energy at a grid's intensity.

    Formula: kWh * kg CO2e/kWh
    Convention: operational (scope 2, location-based) only; embodied carbon of
    the hardware is not counted.
    Source: GHG Protocol Scope 2 Guidance (2015); Patterson et al. 2021,
    "Carbon Emissions and Large Neural Network Training".
    """
    return kwh * carbon_intensity


def rental_cost_usd(accelerator_hours, price_per_hour):
    """Rental cost of accelerator-hours.

    Formula: accelerator-hours * $/accelerator-hour
    Convention: a rental price already includes power, cooling and the facility.
    Source: definition.
    """
    return accelerator_hours * price_per_hour


def electricity_cost_usd(kwh, price_per_kwh):
    """Cost of the facility energy at an electricity price.

    Formula: kWh * $/kWh
    Convention: what an owner-operator pays for power; not to be added to a rental price.
    Source: definition.
    """
    return kwh * price_per_kwh


def capex_per_accelerator_usd(accelerator, server, network, facility_per_mw, it_watts_each):
    """All-in capital cost of one installed accelerator.

    Formula: accelerator + server + network + facility_per_MW * IT watts / 1e6
    Convention: the facility is priced per MW of IT (critical) load, so each accelerator
    carries the share its IT power takes; land, power purchase and staff are not counted.
    Source: Cushman & Wakefield, Data Center Development Cost Guide 2025 (cost per MW of
    critical load); Cottier et al. 2024, "The rising costs of training frontier AI models"
    (arXiv 2405.21015), for splitting cluster cost into accelerators, servers and network.
    """
    return accelerator + server + network + facility_per_mw * it_watts_each / 1e6
