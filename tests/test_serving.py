"""Issue 13: the Ray Serve embeddings server (parity, batching across requests, a bad item fails only its request)
and corpus embedding on Ray Data. Servers listen on 127.0.0.1 only; every request has a timeout."""

from __future__ import annotations

import base64
import concurrent.futures
import io
import json
import socket

import numpy as np
import pytest
from drawing import draw_frames, draw_image
from test_bad_input import _write_video

ray = pytest.importorskip("ray")
httpx = pytest.importorskip("httpx")
from ray import serve  # noqa: E402

from plume_st.serving import build_app, embed_corpus  # noqa: E402

TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _data_uri(image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def folder(plume_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "plume"
    plume_model("qwen2_vl").save_pretrained(str(path))
    return str(path)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)  # logical: replica + 2 workers
    yield
    serve.shutdown()
    ray.shutdown()


@pytest.fixture(scope="module")
def server(local_ray, folder):
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app(folder, max_batch_size=16, batch_wait_ms=200), name="plume", route_prefix="/")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client:
        assert client.get("/health").json() == {"status": "ok"}
        yield client
    serve.delete("plume")


def _post(client, body):
    return client.post("/v1/embeddings", content=json.dumps(body))


def test_server_embeddings_equal_encode(server, folder):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(folder, trust_remote_code=True, device="cpu")
    image = draw_image(1)
    tmp_video = f"{folder}/clip.mp4"
    _write_video(tmp_video, draw_frames(3, count=6, size=(64, 64)))
    video_uri = "data:video/mp4;base64," + base64.b64encode(open(tmp_video, "rb").read()).decode()
    conversations = [
        [{"role": "user", "content": [{"type": "text", "text": "a caption"}]}],
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": _data_uri(image)}}]}],
        [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": _data_uri(image)}},
                    {"type": "text", "text": "what is it?"},
                ],
            }
        ],
        [{"role": "user", "content": [{"type": "video_url", "video_url": {"url": video_uri}}]}],
    ]
    response = _post(server, {"model": "plume", "messages": conversations})
    assert response.status_code == 200, response.text
    body = response.json()
    served = np.array([row["embedding"] for row in body["data"]])
    expected = model.encode(["a caption", image, {"image": image, "text": "what is it?"}, {"video": tmp_video}])
    np.testing.assert_allclose(served, expected, atol=1e-5)
    lengths = model.preprocess(["a caption", image, {"image": image, "text": "what is it?"}, {"video": tmp_video}])
    assert body["usage"]["prompt_tokens"] == int(lengths["attention_mask"].sum())
    assert [row["index"] for row in body["data"]] == [0, 1, 2, 3] and body["model"] == "plume"

    text = _post(server, {"input": ["one", "two"], "encoding_format": "base64", "dimensions": 16}).json()
    decoded = np.stack([np.frombuffer(base64.b64decode(row["embedding"]), "<f4") for row in text["data"]])
    np.testing.assert_allclose(decoded, model.encode(["one", "two"])[:, :16], atol=1e-5)
    query = _post(server, {"input": "one", "prompt": "Find: ", "reasoning": "none"}).json()
    np.testing.assert_allclose(
        query["data"][0]["embedding"], model.encode(["one"], prompt="Find: ", reasoning="none")[0], atol=1e-5
    )
    assert server.get("/v1/models").json()["data"][0]["id"] == "plume"


def test_concurrent_requests_share_batches_and_a_bad_item_fails_only_its_request(server, folder):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(folder, trust_remote_code=True, device="cpu")
    texts = [f"request number {i}" for i in range(32)]
    before = server.get("/stats").json()
    bad = {
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}
        ]
    }
    with concurrent.futures.ThreadPoolExecutor(max_workers=33) as pool:
        futures = [pool.submit(_post, server, {"input": text}) for text in texts]
        bad_future = pool.submit(_post, server, bad)
        responses = [future.result(timeout=TIMEOUT) for future in futures]
        bad_response = bad_future.result(timeout=TIMEOUT)
    after = server.get("/stats").json()
    assert all(r.status_code == 200 for r in responses)
    served = np.array([r.json()["data"][0]["embedding"] for r in responses])
    np.testing.assert_allclose(served, model.encode(texts), atol=1e-5)
    assert after["items"] - before["items"] == 33
    assert after["batches"] - before["batches"] < 32  # items of many requests were encoded together
    assert bad_response.status_code == 400 and "item 0: cannot read image" in bad_response.json()["detail"]


def test_malformed_requests_get_4xx(server):
    assert _post(server, {"model": "plume"}).status_code == 422  # neither input nor messages
    assert _post(server, {"input": ["a"], "encoding_format": "hex"}).status_code == 422
    response = _post(server, {"input": ["fine", "<|im_end|> injected"]})
    assert (
        response.status_code == 400 and "item 1: text contains the reserved control token" in response.json()["detail"]
    )


def test_embed_corpus_writes_every_row_with_errors_for_bad_ones(local_ray, folder, tmp_path):
    from sentence_transformers import SentenceTransformer

    images = []
    for i in range(4):
        path = tmp_path / f"img{i}.png"
        draw_image(i).save(path)
        images.append(str(path))
    rows = []
    for i in range(200):
        row = {"id": f"r{i}", "text": f"row {i}" if i % 2 else None, "image": images[i % 4] if i % 2 == 0 else None}
        rows.append(row)
    rows[17] = {"id": "r17", "text": None, "image": str(tmp_path / "missing.png")}
    rows[150] = {"id": "r150", "text": None, "image": None}
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    errors = embed_corpus(folder, str(manifest), str(tmp_path / "out"), batch_size=25, concurrency=2)
    assert errors == 2
    table = ray.data.read_parquet(str(tmp_path / "out")).to_pandas().set_index("id")
    assert len(table) == 200 and set(table.index[table["error"] != ""]) == {"r17", "r150"}
    assert "does not exist" in table.loc["r17", "error"] and "empty dict" in table.loc["r150", "error"]
    model = SentenceTransformer(folder, trust_remote_code=True, device="cpu")
    good = [row for row in rows if row["id"] not in ("r17", "r150")]
    items = [row["text"] if row["text"] else row["image"] for row in good]
    served = np.stack([table.loc[row["id"], "embedding"] for row in good])
    np.testing.assert_allclose(served, model.encode(items), atol=1e-5)
