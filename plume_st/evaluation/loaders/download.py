"""Copy MMEB-v2 annotations from the Hugging Face Hub into the local layout (run once, with network).

For every chosen dataset this calls ``datasets.load_dataset(repo, subset, split=split)`` (MVBench: one call per
task configuration; BEIR sets: the ``queries``, ``corpus`` and ``qrels`` configurations) and writes
``ROOT/annotations/<dataset>/<table>.parquet``. Corpus page images that are not yet in the media folder are saved
there under the public harness's file names, and the corpus table keeps only ``corpus-id``. Afterwards
``plume-st eval`` reads everything locally and needs no network. The media themselves (``image-tasks/``,
``video-tasks/``, ``visdoc-tasks/``) come from the ``TIGER-Lab/MMEB-V2`` dataset repository (see
``docs/evaluation.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from plume_st.evaluation.loaders.annotations import MVBENCH_SUBSETS, is_beir, local_table, table_names
from plume_st.evaluation.loaders.visdoc import page_filename
from plume_st.evaluation.registry import DatasetSpec, select_datasets


def _download_table(spec: DatasetSpec, table: str, root: Path, target: Path) -> None:
    import datasets

    if is_beir(spec):
        data = datasets.load_dataset(spec.hf_repo, table, split=spec.hf_split)
        if table == "corpus":
            media = root / spec.media_dir
            media.mkdir(parents=True, exist_ok=True)
            for row in tqdm(data, desc=f"{spec.name} pages", leave=False):
                path = media / page_filename(spec, str(row["corpus-id"]))
                if not path.exists() and row.get("image") is not None:
                    row["image"].save(path)
            data = data.select_columns(["corpus-id"])
    elif spec.loader == "mvbench":
        parts = []
        for subset in MVBENCH_SUBSETS:
            part = datasets.load_dataset(spec.hf_repo, subset, split=spec.hf_split)
            parts.append(part.add_column("subset", [subset] * len(part)))
        data = datasets.concatenate_datasets(parts)
    else:
        data = datasets.load_dataset(spec.hf_repo, spec.hf_subset, split=spec.hf_split)
    target.parent.mkdir(parents=True, exist_ok=True)
    data.to_parquet(str(target))


def download_annotations(
    root: str | Path,
    datasets: Sequence[str] | None = None,
    modalities: Sequence[str] | None = None,
    overwrite: bool = False,
) -> list[str]:
    """Download annotations (network) into ``root/annotations``; return the names of the datasets written.

    Args:
        root: The data root (the unpacked MMEB-V2 files).
        datasets: Dataset names (default: all 78, or all of ``modalities``).
        modalities: ``image``, ``video``, ``visdoc``.
        overwrite: Download tables that already have a local copy again.
    """
    root = Path(root)
    written = []
    for spec in tqdm(select_datasets(modalities, datasets), desc="MMEB-v2 annotations"):
        for table in table_names(spec):
            if overwrite or local_table(root / "annotations", spec, table) is None:
                _download_table(spec, table, root, root / "annotations" / spec.name / f"{table}.parquet")
        written.append(spec.name)
    return written
