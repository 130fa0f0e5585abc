"""Beyond the course: the engineering a learner following P1-P32 does not need to open.

Run folders, ``--resume`` and Ctrl-C (``runs``), checkpoint reading (``checkpoint``), the fast
data path (``fastdata``), mixed precision and speed flags (``amp``), torchrun plumbing
(``distributed``), downloads (``download``), your own picture folders (``pictures``), the
improved recipe and its models (``recipe``, ``models``).
"""
