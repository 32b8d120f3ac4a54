"""Full class-label lists of the video classification datasets ranked in global mode (HMDB51, UCF101, K700, Breakfast).

The public harness ranks each query of these datasets against the test rows' labels **plus** the dataset's full
label list, de-duplicated by name (``--protocol vlm2vec``). Each list is a data module naming its source.
"""

from __future__ import annotations

from plume_st.evaluation.loaders.labels import breakfast, hmdb51, kinetics700, ucf101

LABEL_LISTS: dict[str, tuple[str, ...]] = {
    "HMDB51": hmdb51.LABELS,
    "UCF101": ucf101.LABELS,
    "K700": kinetics700.LABELS,
    "Breakfast": breakfast.LABELS,
}
SOURCES: dict[str, str] = {
    "HMDB51": hmdb51.SOURCE,
    "UCF101": ucf101.SOURCE,
    "K700": kinetics700.SOURCE,
    "Breakfast": breakfast.SOURCE,
}


def full_label_list(dataset: str) -> tuple[str, ...]:
    """The full label list of a global video classification dataset.

    Raises:
        KeyError: ``dataset`` has no label list (it is not HMDB51, UCF101, K700 or Breakfast).
    """
    if dataset not in LABEL_LISTS:
        raise KeyError(f"no full label list for dataset {dataset!r}; known: {', '.join(LABEL_LISTS)}")
    return LABEL_LISTS[dataset]
