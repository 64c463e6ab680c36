"""Protocols: a :class:`~hashbench.data.dataset.Dataset` to seeded, checked query / training /
validation / database splits, as the declarative files in ``hashbench.protocols`` say."""
