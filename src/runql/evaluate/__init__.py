"""Engines over runs held in memory: ``reference`` (row by row, the specification) and ``columnar``
(vectorized). Both answer a :class:`~runql.compiled.CompiledQuery`."""
