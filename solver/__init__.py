"""tetrimino: container placement solver and benchmark library."""

from . import bounds as bounds
from . import datasets as datasets
from . import engines as engines
from . import metrics as metrics
from .bounds import lower_bound as lower_bound
from .cluster import Cluster as Cluster
from .constraints import Affinity as Affinity
from .constraints import AntiAffinity as AntiAffinity
from .constraints import Spread as Spread
from .engines import place as place
from .errors import InvalidProblem as InvalidProblem
from .errors import PlacementError as PlacementError
from .explain import why_not as why_not
from .model import Containers as Containers
from .model import Machines as Machines
from .model import Problem as Problem
from .model import Resources as Resources
from .model import Service as Service
from .placement import Placement as Placement
from .placement import Status as Status
from .placement import validate as validate
from .plan import Move as Move
from .plan import Plan as Plan
from .plan import Start as Start
from .plan import Stop as Stop

__all__ = [
    "Affinity",
    "AntiAffinity",
    "Cluster",
    "Containers",
    "InvalidProblem",
    "Machines",
    "Move",
    "Placement",
    "PlacementError",
    "Plan",
    "Problem",
    "Resources",
    "Service",
    "Spread",
    "Start",
    "Status",
    "Stop",
    "bounds",
    "datasets",
    "engines",
    "lower_bound",
    "metrics",
    "place",
    "validate",
    "why_not",
]
