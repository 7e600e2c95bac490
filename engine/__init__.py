"""Journey Builder's orchestration engine: the journey map, its compiler, the runtime and its adapters.

Pure Python; never imports reflex. Each subpackage is one concept; docs/design.md shows how they depend.
"""
