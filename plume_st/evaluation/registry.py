"""The 78 MMEB-v2 datasets: modality, category, metric, candidate mode, and where each one lives.

Names are the ones the public harness writes into its score files (``{name}_score.json``). Every dataset has:

- its annotations as a Hugging Face dataset (``hf_repo``, ``hf_subset``, ``hf_split``), or a local copy under
  ``ROOT/annotations/<name>/`` (see :mod:`plume_st.evaluation.loaders.annotations`);
- its media under ``ROOT/<media_dir>`` in the layout of the unpacked public ``TIGER-Lab/MMEB-V2`` files;
- a loader kind (``loader``) saying how rows become queries and candidates;
- the fixed instructions of the public harness for the video and visual-document tasks (image tasks carry their
  instructions in the annotation rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MODALITIES: tuple[str, ...] = ("image", "video", "visdoc")
CATEGORIES: dict[str, tuple[str, ...]] = {
    "image": ("CLS", "QA", "RET", "GD"),
    "video": ("CLS", "QA", "RET", "MRET"),
    "visdoc": ("VDRv1", "VDRv2", "VisRAG", "OOD"),
}

VIDEO_TARGET_INST = "Understand the content of the provided video."
# The reference's TASK_PROMPT, trailing space included: with the space that joins it to the query, the public harness
# reads "... Question:  <query>" (two spaces).
VIDEO_QA_INST = (
    "Given a video and a question, select the most accurate answer from the provided candidates. "
    "Return only the exact text of your chosen answer. Question: "
)
VISDOC_QUERY_INST = "Find a document image that matches the given query:"
VISDOC_TARGET_INST = "Understand the content of the provided document image."


@dataclass(frozen=True)
class DatasetSpec:
    """One MMEB-v2 dataset.

    Attributes:
        name: Name as in the public score files, e.g. ``"MSCOCO_t2i"``.
        modality: ``"image"``, ``"video"`` or ``"visdoc"``.
        category: Category inside the modality (``CATEGORIES``).
        loader: Loader kind, see :func:`plume_st.evaluation.loaders.load_task`.
        hf_repo: Hugging Face dataset repository of the annotations.
        hf_subset: Dataset configuration (subset) or ``None``.
        hf_split: Split holding the evaluation rows.
        media_dir: Media folder relative to the data root.
        candidates: ``"local"`` (each query against its own list) or ``"global"`` (against the union / corpus).
        query_instruction: Fixed query instruction (empty: taken from the annotations).
        target_instruction: Fixed candidate instruction (empty: none or taken from the annotations).
        max_queries: Only the first ``max_queries`` rows are evaluated (SmthSmthV2: 1000).
    """

    name: str
    modality: str
    category: str
    loader: str
    hf_repo: str
    hf_subset: str | None
    hf_split: str
    media_dir: str
    candidates: str
    query_instruction: str = ""
    target_instruction: str = ""
    max_queries: int | None = None

    @property
    def metric(self) -> str:
        """``"ndcg@5"`` (linear gain) for visual documents, ``"hit@1"`` otherwise."""
        return "ndcg@5" if self.modality == "visdoc" else "hit@1"


def _image(category: str, names: Iterable[str]) -> list[DatasetSpec]:
    return [
        DatasetSpec(n, "image", category, "image", "ziyjiang/MMEB_Test_Instruct", n, "test", "image-tasks", "local")
        for n in names
    ]


def _video(
    name: str,
    category: str,
    loader: str,
    media: str,
    candidates: str,
    query_inst: str,
    target_inst: str = "",
    repo: str | None = None,
    subset: str | None = None,
    split: str = "test",
    max_queries: int | None = None,
) -> DatasetSpec:
    return DatasetSpec(
        name, "video", category, loader, repo or f"VLM2Vec/{name}", subset, split,
        f"video-tasks/frames/{media}", candidates, query_inst, target_inst, max_queries,
    )  # fmt: skip


def _visdoc(name: str, category: str, loader: str, repo: str, media: str, split: str = "test") -> DatasetSpec:
    return DatasetSpec(
        name, "visdoc", category, loader, repo, None, split, f"visdoc-tasks/{media}", "global",
        VISDOC_QUERY_INST, VISDOC_TARGET_INST,
    )  # fmt: skip


_IMAGE = (
    _image("CLS", ["ImageNet-1K", "N24News", "HatefulMemes", "VOC2007", "SUN397", "Place365", "ImageNet-A",
                   "ImageNet-R", "ObjectNet", "Country211"])
    + _image("QA", ["OK-VQA", "A-OKVQA", "DocVQA", "InfographicsVQA", "ChartQA", "Visual7W", "ScienceQA", "VizWiz",
                    "GQA", "TextVQA"])
    + _image("RET", ["VisDial", "CIRR", "VisualNews_t2i", "VisualNews_i2t", "MSCOCO_t2i", "MSCOCO_i2t", "NIGHTS",
                     "WebQA", "FashionIQ", "Wiki-SS-NQ", "OVEN", "EDIS"])
    + _image("GD", ["MSCOCO", "RefCOCO", "RefCOCO-Matching", "Visual7W-Pointing"])
)  # fmt: skip

_VT = VIDEO_TARGET_INST
_VIDEO = [
    _video("SmthSmthV2", "CLS", "ssv2", "video_cls/SSv2", "local",
           "What actions or object interactions are being performed by the person in the video?", max_queries=1000),
    _video("HMDB51", "CLS", "video_cls", "video_cls/HMDB51", "global",
           "What actions or objects interactions are the person in the video doing?"),
    _video("UCF101", "CLS", "video_cls", "video_cls/UCF101", "global",
           "What activities or sports are being performed by the person in the video?"),
    _video("K700", "CLS", "video_cls", "video_cls/K700", "global", "Recognize the category of the video content.",
           repo="VLM2Vec/Kinetics-700"),
    _video("Breakfast", "CLS", "video_cls", "video_cls/Breakfast", "global",
           "Recognize the breakfast type that the person is cooking in the video."),
    _video("MVBench", "QA", "mvbench", "video_qa/MVBench", "local", VIDEO_QA_INST, split="train"),
    _video("Video-MME", "QA", "videomme", "video_qa/Video-MME", "local", VIDEO_QA_INST),
    _video("NExTQA", "QA", "nextqa", "video_qa/NExTQA", "local", VIDEO_QA_INST, subset="MC"),
    _video("EgoSchema", "QA", "egoschema", "video_qa/EgoSchema", "local", VIDEO_QA_INST, subset="Subset"),
    _video("ActivityNetQA", "QA", "activitynetqa", "video_qa/ActivityNetQA", "local", VIDEO_QA_INST),
    _video("DiDeMo", "RET", "didemo", "video_ret/DiDeMo", "global",
           "Find a video that includes the following described scenes:", _VT),
    _video("MSR-VTT", "RET", "msrvtt", "video_ret/MSR-VTT", "global",
           "Find a video that contains the following visual content:", _VT, subset="test_1k"),
    _video("MSVD", "RET", "msvd", "video_ret/MSVD", "global",
           "Find the video snippet that corresponds to the given summary:", _VT),
    _video("VATEX", "RET", "vatex", "video_ret/VATEX", "global", "Select a video that fits the description provided:",
           _VT),
    _video("YouCook2", "RET", "youcook2", "video_ret/YouCook2", "global",
           "Find a video that demonstrates the following action while making a recipe:", _VT,
           repo="lmms-lab/YouCook2", split="val"),
    _video("QVHighlight", "MRET", "moment", "video_mret/QVHighlight", "local",
           "Find the clip that corresponds to the described scene in the given video:", _VT),
    _video("Charades-STA", "MRET", "moment", "video_mret/Charades_STA", "local",
           "Find the clip that corresponds to the described scene in the given video:", _VT),
    _video("MomentSeeker", "MRET", "momentseeker", "video_mret/MomentSeeker", "local",
           "Find the clip that corresponds to the given text:", "Understand the content of the provided video clip."),
]  # fmt: skip

_VIDORE_V1_SUBSAMPLED = ("arxivqa", "docvqa", "infovqa", "tabfquad")
_VIDORE_V1_FULL = ("tatdqa", "shiftproject", "syntheticDocQA_artificial_intelligence", "syntheticDocQA_energy",
                   "syntheticDocQA_government_reports", "syntheticDocQA_healthcare_industry")  # fmt: skip
_VISDOC = (
    [_visdoc(f"ViDoRe_{x}", "VDRv1", "vidore", f"vidore/{x}_test_subsampled_beir", f"ViDoRe_{x}")
     for x in _VIDORE_V1_SUBSAMPLED]
    + [_visdoc(f"ViDoRe_{x}", "VDRv1", "vidore", f"vidore/{x}_test_beir", f"ViDoRe_{x}") for x in _VIDORE_V1_FULL]
    + [_visdoc("ViDoRe_esg_reports_human_labeled_v2", "VDRv2", "vidore", "vidore/esg_reports_human_labeled_v2",
               "esg_reports_human_labeled_v2")]
    + [_visdoc(f"ViDoRe_{x}_v2_multilingual", "VDRv2", "vidore", f"vidore/{x}_v2", f"{x}_v2_multilingual")
       for x in ("biomedical_lectures", "economics_reports", "esg_reports")]
    + [_visdoc(f"VisRAG_{x}", "VisRAG", "visrag", f"openbmb/VisRAG-Ret-Test-{x}", f"VisRAG_{x}", split="train")
       for x in ("ArxivQA", "ChartQA", "MP-DocVQA", "SlideVQA", "InfoVQA", "PlotQA")]
    + [_visdoc("ViDoSeek-page", "OOD", "vidore", "VLM2Vec/ViDoSeek-page-fixed", "ViDoSeek-page"),
       _visdoc("ViDoSeek-doc", "OOD", "vidore", "VLM2Vec/ViDoSeek", "ViDoSeek-doc"),
       _visdoc("MMLongBench-page", "OOD", "vidore", "VLM2Vec/MMLongBench-page-fixed", "MMLongBench-page"),
       _visdoc("MMLongBench-doc", "OOD", "vidore", "VLM2Vec/MMLongBench-doc", "MMLongBench-doc")]
)  # fmt: skip

DATASETS: tuple[DatasetSpec, ...] = tuple(_IMAGE + _VIDEO + _VISDOC)
_BY_NAME: dict[str, DatasetSpec] = {spec.name: spec for spec in DATASETS}


def get_dataset(name: str) -> DatasetSpec:
    """Return the spec of one dataset by its public name.

    Raises:
        KeyError: The name is not one of the 78 MMEB-v2 datasets (the message lists close matches).
    """
    if name in _BY_NAME:
        return _BY_NAME[name]
    close = [n for n in _BY_NAME if n.lower().startswith(name.lower()[:4])]
    raise KeyError(f"Unknown MMEB-v2 dataset {name!r}; close names: {close or 'none'} (see `plume-st eval --list`).")


def select_datasets(modalities: Sequence[str] | None = None, names: Sequence[str] | None = None) -> list[DatasetSpec]:
    """Pick datasets by modality and/or name, in registry order.

    Args:
        modalities: Keep only these modalities (``None``: all three).
        names: Keep only these dataset names (``None``: all of the selected modalities).

    Raises:
        ValueError: An unknown modality.
        KeyError: An unknown dataset name.
    """
    wanted = set(modalities or MODALITIES)
    unknown = wanted - set(MODALITIES)
    if unknown:
        raise ValueError(f"Unknown modality {sorted(unknown)}; choose from {list(MODALITIES)}.")
    chosen = {get_dataset(n).name for n in names} if names else None
    return [s for s in DATASETS if s.modality in wanted and (chosen is None or s.name in chosen)]


def format_registry(specs: Sequence[DatasetSpec] = DATASETS) -> str:
    """One dataset a line: name, modality, category, metric, candidate mode (tab separated)."""
    return "\n".join(f"{s.name}\t{s.modality}\t{s.category}\t{s.metric}\t{s.candidates}" for s in specs)
