"""Load any of the 78 datasets as an :class:`EvalTask`: read its annotations, resolve its media, pick its loader."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

from plume_st.evaluation.loaders.annotations import load_rows
from plume_st.evaluation.loaders.image import load_image_task
from plume_st.evaluation.loaders.moment import load_moment_task
from plume_st.evaluation.loaders.video import RETRIEVAL_COLUMNS, load_video_cls_task, load_video_retrieval_task
from plume_st.evaluation.loaders.video_qa import load_video_qa_task
from plume_st.evaluation.loaders.visdoc import load_visdoc_task
from plume_st.evaluation.protocol import Protocol
from plume_st.evaluation.registry import DatasetSpec
from plume_st.evaluation.task import EvalTask

ROW_LOADERS = {
    "image": load_image_task,
    "video_cls": load_video_cls_task,
    "ssv2": load_video_cls_task,
    **dict.fromkeys(RETRIEVAL_COLUMNS, load_video_retrieval_task),
    **dict.fromkeys(("mvbench", "videomme", "nextqa", "egoschema", "activitynetqa"), load_video_qa_task),
    "moment": load_moment_task,
    "momentseeker": load_moment_task,
}


def load_task(
    spec: DatasetSpec,
    data_root: Path,
    annotations_root: Path | None = None,
    from_hub: bool = False,
    max_queries: int | None = None,
    protocol: Protocol = Protocol(),
) -> EvalTask:
    """Build one dataset's task.

    Args:
        spec: The dataset.
        data_root: The unpacked public MMEB-V2 files (``image-tasks/``, ``video-tasks/``, ``visdoc-tasks/``).
        annotations_root: Local annotations (default ``data_root / "annotations"``).
        from_hub: Load annotations that have no local copy from the Hugging Face Hub (network).
        max_queries: Evaluate only the first queries (quick checks; global candidate pools are still built from
            every row). The dataset's own limit (SmthSmthV2: 1000) always applies.
        protocol: The evaluation protocol (pools, frames, prompt style; :mod:`plume_st.evaluation.protocol`).

    Raises:
        AnnotationsNotFound: Missing annotations (and ``from_hub`` false).
        FileNotFoundError: Missing media.
    """
    data_root = Path(data_root).resolve()  # cache keys hold media paths: spell the same folder the same way
    annotations_root = Path(annotations_root) if annotations_root else data_root / "annotations"
    media_root = data_root / spec.media_dir
    own = spec.max_queries  # part of the benchmark (SmthSmthV2: the first 1000 rows)
    # A user limit (max_queries) subsamples the queries only; a global pool is still built from every row.
    local = spec.candidates == "local"
    limit = min(x for x in (max_queries if local else None, own, 1 << 62) if x is not None)
    if spec.modality == "visdoc":
        tables = {
            t: load_rows(spec, t, annotations_root, from_hub, ["corpus-id"] if t == "corpus" else None)
            for t in ("queries", "corpus", "qrels")
        }
        task = load_visdoc_task(
            spec, tables["queries"], tables["corpus"], tables["qrels"], media_root, own, protocol
        )  # fmt: skip
    else:
        rows = load_rows(spec, spec.hf_split, annotations_root, from_hub)
        task = ROW_LOADERS[spec.loader](spec, islice(rows, limit), media_root, protocol)
    task = task.first_queries(max_queries)
    check_media(task)
    return task


def check_media(task: EvalTask) -> None:
    """Fail early, naming the first missing file, when images of a task are absent (frames are checked on load).

    Raises:
        FileNotFoundError: Some image files do not exist.
    """
    images = {item.image for item in task.queries + task.candidates if item.image}
    absent = sorted(p for p in images if not Path(p).is_file())
    if absent:
        raise FileNotFoundError(f"{task.spec.name}: {len(absent)} of {len(images)} images missing, e.g. {absent[0]}.")
