"""Issue 18 through the ``plume-st`` command line, each command in its own session and ended by process id:
``serve --host 127.0.0.1`` listens on loopback only (its local Ray included) and requires the API key;
``embed-corpus`` killed halfway and rerun with ``--mode resume`` gives every id exactly once, in a folder that reads
with pyarrow, pandas and ``datasets``. Every wait is bounded."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from drawing import draw_image
from serving.media_helpers import free_port
from serving.processes import end, is_loopback, listening, start, started_by, wait_until_healthy

pytest.importorskip("ray")


@pytest.fixture(scope="module")
def folder(plume_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "plume"
    plume_model("qwen2_vl").save_pretrained(str(path))
    return str(path)


def test_serve_listens_on_loopback_only_and_needs_the_api_key(folder, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    server = start(["serve", folder, "--host", "127.0.0.1", "--port", str(port)], log, PLUME_API_KEY="s3cret-key")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_until_healthy(client, server, log)
            sockets = listening(started_by(server))
            print(f"{len(started_by(server))} processes, listening sockets: {sorted({s[1] for s in sockets})}")
            assert [socket for socket in sockets if not is_loopback(socket[1])] == []
            assert any(p == port for _, _, p in sockets)
            body = json.dumps({"input": ["hello"]})
            assert client.post("/v1/embeddings", content=body).status_code == 401
            wrong = {"Authorization": "Bearer wrong"}
            assert client.post("/v1/embeddings", content=body, headers=wrong).status_code == 401
            assert client.get("/v1/models").status_code == 401 and client.get("/stats").status_code == 401
            key = {"Authorization": "Bearer s3cret-key"}
            response = client.post("/v1/embeddings", content=body, headers=key)
            assert response.status_code == 200 and len(response.json()["data"][0]["embedding"]) > 0
            assert client.get("/v1/models", headers=key).status_code == 200
    finally:
        end(server)


def test_a_killed_corpus_job_resumed_gives_every_id_once(folder, plume_model, tmp_path):
    images = []
    for i in range(4):
        path = tmp_path / f"img{i}.png"
        draw_image(i).save(path)
        images.append(str(path))
    rows = [
        {"id": f"r{i}", "text": f"row {i}" if i % 2 else None, "image": images[i % 4] if i % 2 == 0 else None}
        for i in range(300)
    ]
    rows[17] = {"id": "r17", "text": None, "image": str(tmp_path / "missing.png")}
    rows[150] = {"id": "r150", "text": None, "image": None}
    rows[201] = {"id": "r201", "text": None, "image": "http://127.0.0.1:9/x.png"}  # no domain allowed
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out"
    args = ["embed-corpus", folder, str(manifest), "--out", str(out), "--batch-size", "10", "--rows-per-file", "20"]

    job = start(args, tmp_path / "first.log")
    try:
        for _ in range(6000):  # bounded: 600 s at most
            if len(list(out.glob("part-*.parquet"))) >= 3 or job.poll() is not None:
                break
            time.sleep(0.1)
    finally:
        end(job)  # killed halfway
    first = pq.read_table([str(p) for p in out.glob("part-*.parquet")]).num_rows
    print(f"killed after {first} of 300 rows")
    assert 0 < first < 300 and not (out / "_summary.json").exists()

    again = start(args, tmp_path / "again.log")
    assert again.wait(timeout=120) == 1
    assert "--mode resume" in (tmp_path / "again.log").read_text()

    resumed = start([*args, "--mode", "resume"], tmp_path / "resume.log")
    try:
        assert resumed.wait(timeout=600) == 0, (tmp_path / "resume.log").read_text()[-3000:]
    finally:
        end(resumed)

    import datasets
    import pandas as pd

    parts = sorted(out.glob("part-*.parquet"))
    schemas = {str(pq.read_schema(part)) for part in parts}
    assert len(schemas) == 1, schemas
    table = pq.read_table(str(out))
    frame = pd.read_parquet(str(out)).set_index("id")
    loaded = datasets.load_dataset("parquet", data_files=[str(p) for p in parts], split="train")
    dimension = plume_model("qwen2_vl").get_embedding_dimension()
    embedding_type = table.schema.field("embedding").type
    assert pa.types.is_fixed_size_list(embedding_type) and embedding_type.list_size == dimension
    assert embedding_type.value_type == pa.float32()
    assert sorted(table.column("id").to_pylist()) == sorted(row["id"] for row in rows)  # every id exactly once
    assert len(frame) == len(loaded) == 300
    bad = {"r17", "r150", "r201"}
    assert set(frame.index[frame["error"].notna()]) == bad and frame.loc[list(bad), "embedding"].isna().all()
    assert frame.loc["r17", "error"] == "could not read the local image file"
    assert frame.loc["r150", "error"] == "the row has no text, image or video"
    assert frame.loc["r201", "error"].startswith("image URLs are not allowed")
    good = [row for row in rows if row["id"] not in bad]
    items = [{"text": row["text"]} if row["text"] else {"image": row["image"]} for row in good]
    served = np.stack(frame.loc[[row["id"] for row in good], "embedding"].to_numpy())
    np.testing.assert_allclose(served, plume_model("qwen2_vl").encode(items), atol=1e-5)
    summary = json.loads((out / "_summary.json").read_text())
    assert summary["rows"] == 300 and summary["errors"] == 3 and summary["model"] == folder
