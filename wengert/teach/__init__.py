"""Seeing backprop: trace tables, graph drawings and gradient-flow diagnostics.

These are readers of the Wengert list that live outside the engine: they read
it through the core's read API (:mod:`wengert.core.graph`: nodes, their
rules, inputs and values) and use the engine's own reverse walk and forward
mode over the same list to fill in derivatives.
"""
from .checks import GateFailure, GateReport, ModesReport, NanReport, check_gates, compare_modes, explain_nan
from .diagnostics import GradientFlowMonitor, GradientFlowWarning, plot_grad_norms
from .draw import Drawing, GraphTooLargeError, GraphvizNotFoundError, draw
from .trace import Partial, Row, Trace, Tracer, trace

__all__ = [
           "Drawing",
           "GateFailure",
           "GateReport",
           "GradientFlowMonitor",
           "GradientFlowWarning",
           "GraphTooLargeError",
           "GraphvizNotFoundError",
           "ModesReport",
           "NanReport",
           "Partial",
           "Row",
           "Trace",
           "Tracer",
           "check_gates",
           "compare_modes",
           "draw",
           "explain_nan",
           "plot_grad_norms",
           "trace",
]
