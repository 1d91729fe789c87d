"""The runtime: thread pools, Futures whose cancellation reaches native work, chaining,
the demux helper processes, and the generator of an operation's three forms.

It runs the core's functions; it imports from ``_core`` only (docs/architecture.md,
"Layers").
"""
