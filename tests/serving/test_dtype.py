"""Issue 22: ``--dtype`` reaches the model of ``plume-st serve`` and ``plume-st embed-corpus``.

Each command runs in its own session on a float32 folder with ``--dtype bfloat16``; its vectors equal the bfloat16
model's ``encode`` and are farther from the float32 model's than that. One item per batch everywhere (single-item
requests sent one after the other, ``--batch-size 1``): a bfloat16 batch of other rows would round differently.
Every wait is bounded; every process it started is ended by id.
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from sentence_transformers import SentenceTransformer
from serving.media_helpers import free_port
from serving.processes import end, start, wait_until_healthy

pytest.importorskip("ray")

TEXTS = ["a red ball on the grass", "two cats", "the quarterly report", "snow on the mountain"]


@pytest.fixture(scope="module")
def folder(plume_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("dtype") / "plume"
    plume_model("qwen2_vl").save_pretrained(str(path))
    return str(path)


@pytest.fixture(scope="module")
def expected(folder):
    """``encode`` of TEXTS, one at a time, by the folder loaded in float32 and in bfloat16."""
    return {
        dtype: SentenceTransformer(folder, trust_remote_code=True, device="cpu", model_kwargs={"dtype": dtype}).encode(
            TEXTS, batch_size=1
        )
        for dtype in (torch.float32, torch.bfloat16)
    }


def assert_bf16_vectors(vectors: np.ndarray, expected: dict) -> None:
    bf16, fp32 = expected[torch.bfloat16], expected[torch.float32]
    np.testing.assert_allclose(vectors, bf16, atol=1e-5, rtol=0)
    assert np.abs(vectors - fp32).max() > 10 * np.abs(vectors - bf16).max()


def test_serve_dtype_reaches_the_model(folder, expected, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    server = start(["serve", folder, "--host", "127.0.0.1", "--port", str(port), "--dtype", "bfloat16"], log)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_until_healthy(client, server, log)
            vectors = []
            for text in TEXTS:
                response = client.post("/v1/embeddings", json={"input": text})
                assert response.status_code == 200, response.text
                vectors.append(response.json()["data"][0]["embedding"])
    finally:
        end(server)
    assert_bf16_vectors(np.array(vectors), expected)


def test_embed_corpus_dtype_reaches_the_model(folder, expected, tmp_path):
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"id": f"r{i}", "text": text}) + "\n" for i, text in enumerate(TEXTS)))
    out = tmp_path / "out"
    arguments = ["embed-corpus", folder, str(manifest), "--out", str(out), "--batch-size", "1"]
    job = start(arguments + ["--dtype", "bfloat16"], tmp_path / "log")
    try:
        assert job.wait(timeout=300) == 0, (tmp_path / "log").read_text()[-3000:]
    finally:
        end(job)
    table = pq.read_table([str(path) for path in out.glob("part-*.parquet")]).to_pandas().set_index("id")
    vectors = np.stack([table.loc[f"r{i}", "embedding"] for i in range(len(TEXTS))])
    assert_bf16_vectors(vectors, expected)
