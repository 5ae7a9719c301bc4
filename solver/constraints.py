"""Hard placement constraints: what users declare, and their compiled flat-array form.

Users attach :class:`AntiAffinity`, :class:`Spread` and :class:`Affinity` to containers
(or to a :class:`~solver.model.Service`). :func:`compile_constraints` turns them, once per
problem, into int32/int64 arrays that the Numba kernels and the validator read: an
eligibility class per container, machine-to-domain maps per topology key, and counter
groups for anti-affinity, spread and affinity.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AntiAffinity:
    """At most ``max_per_domain`` containers of the same service per ``topology_key`` domain.

    ``topology_key="machine"`` means one domain per machine (Kubernetes' hostname key).
    """

    topology_key: str = "machine"
    max_per_domain: int = 1


@dataclass(frozen=True)
class Spread:
    """Kubernetes PodTopologySpread with ``whenUnsatisfiable: DoNotSchedule``.

    Placing a container into a domain must keep ``count(domain) - min(counts) <= max_skew``
    over the domains of the machines the container may use.
    """

    topology_key: str = "zone"
    max_skew: int = 1


@dataclass(frozen=True)
class Affinity:
    """Co-location with the containers of ``service`` in the same ``topology_key`` domain.

    ``required=True`` is a hard rule (the domain must already run one of them, unless the
    target service is the container's own and none is placed yet); ``required=False`` only
    raises the score of such domains.
    """

    service: str
    topology_key: str = "machine"
    required: bool = True
