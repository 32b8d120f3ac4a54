"""Scoring a task from its embeddings: ranking, the dataset's metric, and the values the report shows.

- :mod:`.metrics`: hit@1 and NDCG@5 with linear gain, both with ties averaged and on a given ranking;
- :mod:`.score`: :func:`score_task` and :class:`DatasetResult`, what a score file holds.
"""
