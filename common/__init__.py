"""Shared plumbing for the lessons (kept thin on purpose, like d2l's helper module).

Lesson scripts show the PyTorch they teach inline; this package only hides the
boring parts: where files go (``paths``), which device to use (``device``),
where the data comes from (``data``), the course model (``model``), shared
command-line flags and one-line errors (``cli``), checkpoints (``checkpoint``)
and safe image opening (``images``).
"""
