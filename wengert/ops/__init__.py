"""The rule table (primitives), composites, public functions, Tensor methods and NumPy dispatch."""
from . import methods  # noqa: F401  (attaches operators and methods to Tensor)
from . import table, composite, api  # noqa: F401
