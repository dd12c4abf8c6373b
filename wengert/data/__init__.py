"""Data: mini-batch iteration (in one process, or one part of each batch per MPI rank), train/test splits and
built-in datasets (moons, circles, spirals, XOR, digits)."""
from .datasets import load_digits, make_circles, make_moons, make_spirals, make_xor
from .loader import DataLoader, train_test_split
from .sampler import BatchSampler, DistributedSampler

DATASETS = {"digits": load_digits, "moons": make_moons, "circles": make_circles, "spirals": make_spirals,
            "xor": make_xor}

__all__ = [
            "DATASETS",
            "BatchSampler",
            "DataLoader",
            "DistributedSampler",
            "load_digits",
            "make_circles",
            "make_moons",
            "make_spirals",
            "make_xor",
            "train_test_split",
]
