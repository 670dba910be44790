"""The query language itself: the typed syntax tree (``ast``), text to tree (``parser``, with ``grammar``
and the syntax errors of ``diagnosis``), tree to canonical text (``unparser``), and what a key names:
the kinds of keys and every attribute of a run and of an experiment (``attributes``)."""
