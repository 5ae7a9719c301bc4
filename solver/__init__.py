"""tetrimino: container placement solver and benchmark library."""

from . import bounds as bounds
from . import datasets as datasets
from . import engines as engines
from . import metrics as metrics
from .bounds import lower_bound as lower_bound
from .constraints import Affinity as Affinity
from .constraints import AntiAffinity as AntiAffinity
from .constraints import Spread as Spread
from .engines import place as place
from .errors import InvalidProblem as InvalidProblem
from .explain import why_not as why_not
from .errors import PlacementError as PlacementError
from .model import Containers as Containers
from .model import Machines as Machines
from .model import Problem as Problem
from .model import Resources as Resources
from .model import Service as Service
from .placement import Placement as Placement
from .placement import Status as Status
from .placement import validate as validate

__all__ = [
    "Affinity",
    "AntiAffinity",
    "Containers",
    "InvalidProblem",
    "Machines",
    "Placement",
    "PlacementError",
    "Problem",
    "Resources",
    "Service",
    "Spread",
    "Status",
    "bounds",
    "datasets",
    "engines",
    "lower_bound",
    "metrics",
    "place",
    "validate",
    "why_not",
]
