"""The rule table (primitives), composites, public functions, Tensor methods and NumPy dispatch."""
from . import (  # noqa: F401
    api,
    batching,
    composite,
    methods,
    table,
)
