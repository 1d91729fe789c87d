"""A drop-in for torch's ``DataLoader`` built on :mod:`spdl.pipeline`, with rank-aware,
resumable samplers and ready-made media loaders.
"""

from spdl.dataloader._audio import AudioClipLoader
from spdl.dataloader._folder import ImageFolder
from spdl.dataloader._image import ImageBatchLoader, sample_seed
from spdl.dataloader._loader import DataLoader
from spdl.dataloader._sampler import RandomSampler, Sampler, SequentialSampler
from spdl.dataloader._source import MapSource, Sample
from spdl.dataloader._transfer import cuda_transfer
from spdl.dataloader._video import VideoClipLoader

__all__ = [
    "AudioClipLoader",
    "DataLoader",
    "ImageBatchLoader",
    "ImageFolder",
    "MapSource",
    "RandomSampler",
    "Sample",
    "Sampler",
    "SequentialSampler",
    "VideoClipLoader",
    "cuda_transfer",
    "sample_seed",
]
