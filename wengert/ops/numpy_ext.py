"""(To be filled: see issue 11.)"""
from __future__ import annotations
