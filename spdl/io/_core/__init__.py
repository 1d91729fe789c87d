"""The synchronous core: sources, demux (PyAV), decode, convert, arrays.

Each function here does one phase in the calling thread and returns its result; none
knows about executors, Futures or asyncio. It imports nothing from ``_runtime`` or
``_api`` (docs/architecture.md, "Layers").
"""
