"""Encoding evaluation items with a model: sharded over ranks, cached on disk, keyed by a fingerprint of the model.

- :mod:`.encode`: :func:`encode_items`, the rank's share of the uncached items, a chunk at a time;
- :mod:`.cache`: :class:`EmbeddingCache`, vectors by item key in atomically written ``.npz`` files;
- :mod:`.fingerprint`: :func:`model_fingerprint`, the model's identity in the cache settings.
"""
