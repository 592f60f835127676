"""Facility power, energy, carbon and money."""

from __future__ import annotations

JOULES_PER_KWH = 3.6e6


def system_watts(tdp, overhead):
    """IT power per accelerator when its system's own figure is unknown.

    Formula: TDP * (1 + overhead)
    Convention: overhead stands for host CPUs, memory, NICs, switches and fans as a share of
    the accelerator's board power; a system's rated figure replaces it where one is published.
    Source: NVIDIA DGX H100 datasheet (10.2 kW for 8 x 700 W: overhead 0.82); GB200 NVL72
    (~120-132 kW for 72 x 1.2 kW: 0.39-0.53).
    """
    return tdp * (1 + overhead)


def it_watts(accelerators, watts_each):
    """IT power of a cluster: each accelerator in its system, host and network share included.

    Formula: n * P_system
    Convention: P_system is the rated (maximum) system power per accelerator, an upper bound
    for a busy job: DGX H100/H200 10.2 kW / 8 = 1,275 W, DGX B200 14.3 kW / 8, GB200 NVL72
    ~132 kW / 72. A measured average per accelerator replaces it.
    Source: NVIDIA DGX H100/H200 and DGX B200 datasheets (maximum system power); performance.md
    8.2, 8.5, 8.6.
    """
    return accelerators * watts_each


def sustained_watts(rated_watts, fraction):
    """Average draw of a cluster while it trains or serves, below its rated power.

    Formula: P_rated * fraction
    Convention: fraction of the rated system power: 0.82 training (an 8x H100 node training
    Llama2-13B peaked at 8.4 kW of 10.2 kW), 0.77 serving (inference clusters fit 30% more
    servers in the same provisioned power).
    Source: Latif et al. 2024 (arXiv 2412.08602), abstract; Patel et al., POLCA (arXiv
    2308.12908), abstract; performance.md 8.3, 8.8.
    """
    return rated_watts * fraction


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
