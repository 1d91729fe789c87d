"""A drop-in for torch's ``DataLoader`` built on :mod:`spdl.pipeline`, with rank-aware,
resumable samplers and ready-made media loaders.
"""

from spdl.dataloader._loader import DataLoader
from spdl.dataloader._sampler import RandomSampler, Sampler, SequentialSampler
from spdl.dataloader._source import MapSource, Sample

__all__ = [
    "DataLoader",
    "MapSource",
    "RandomSampler",
    "Sample",
    "Sampler",
    "SequentialSampler",
]
