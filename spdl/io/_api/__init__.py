"""The public operations, each declared once: a plan of core steps from which
``_runtime.operation`` generates the sync, Future and asyncio forms that ``spdl.io``
exports (docs/architecture.md, "Layers").
"""
