"""Issues 13 and 18: the Ray Serve embeddings server through real HTTP on 127.0.0.1. One local Ray serves two
applications: ``/`` with the defaults (data: URIs only, explicit reasoning refused) and ``/open`` with a media folder,
127.0.0.1 as a media domain, small byte cap and deadline, explicit reasoning allowed. Every request has a timeout;
helper HTTP servers listen on 127.0.0.1; every loop is bounded."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from drawing import draw_frames, draw_image
from PIL import Image
from serving.media_helpers import (
    MediaServer,
    MemoryPeak,
    conversation,
    data_uri,
    free_port,
    image_part,
    png_bytes,
    video_part,
    write_video,
)

ray = pytest.importorskip("ray")
httpx = pytest.importorskip("httpx")
from ray import serve  # noqa: E402

import plume_st  # noqa: E402
from plume_st.model import set_matryoshka_dims  # noqa: E402
from plume_st.serving.media_policy import MediaPolicy  # noqa: E402
from plume_st.serving.request import ServeLimits  # noqa: E402
from plume_st.serving.server import build_app  # noqa: E402

TIMEOUT = 120.0
CAP = 16 * 2**20


@pytest.fixture(scope="module")
def folder(plume_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "plume"
    plume_model("qwen2_vl").save_pretrained(str(path))
    return str(path)


@pytest.fixture(scope="module")
def matryoshka_folder(tiny_backbone, tmp_path_factory):
    """A model that records the Matryoshka dims it was trained for (built apart: the shared model stays as it is)."""
    model = plume_st.build_plume_model(str(tiny_backbone("qwen2_vl")), latent_steps=1, device="cpu")
    set_matryoshka_dims(model, [16, 64, 32])
    path = tmp_path_factory.mktemp("serve") / "mrl"
    model.save_pretrained(str(path))
    return str(path)


@pytest.fixture(scope="module")
def model(folder):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(folder, trust_remote_code=True, device="cpu")


@pytest.fixture(scope="module")
def media_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    draw_image(5).save(root / "inside.png")
    write_video(root / "clip.mp4", draw_frames(3, count=6, size=(64, 64)))
    private = tmp_path_factory.mktemp("private")
    draw_image(6).save(private / "secret.png")
    (root / "link.png").symlink_to(private / "secret.png")
    return root


@pytest.fixture(scope="module")
def servers(folder, matryoshka_folder, media_root):
    from plume_st.serving.ray_cluster import start_ray

    start_ray(num_cpus=6, log_to_driver=False)  # three replicas, the corpus job and its reads
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app(folder, max_batch_size=16, batch_wait_ms=200), name="default", route_prefix="/")
    open_app = build_app(
        folder,
        max_batch_size=16,
        batch_wait_ms=50,
        limits=ServeLimits(allow_explicit_reasoning=True, max_reasoning_tokens=4, max_request_bytes=2**20),
        policy=MediaPolicy(str(media_root), ("127.0.0.1",), max_media_bytes=CAP, fetch_timeout_s=3.0),
    )
    serve.run(open_app, name="open", route_prefix="/open")
    serve.run(build_app(matryoshka_folder, served_name="mrl"), name="mrl", route_prefix="/mrl")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/open/health").json() == {"status": "ok"}
        yield client
    serve.shutdown()
    ray.shutdown()


def _post(client, body, prefix=""):
    return client.post(f"{prefix}/v1/embeddings", content=json.dumps(body))


def _vectors(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.array([row["embedding"] for row in response.json()["data"]])


def test_server_embeddings_equal_encode(servers, model, media_root):
    image = draw_image(1)
    clip = media_root / "clip.mp4"
    items = ["a caption", image, {"image": image, "text": "what is it?"}, {"video": str(clip)}]
    conversations = [
        conversation({"type": "text", "text": "a caption"}),
        conversation(image_part(data_uri(png_bytes(image), "image/png"))),
        conversation(image_part(data_uri(png_bytes(image), "image/png")), {"type": "text", "text": "what is it?"}),
        conversation(video_part(data_uri(clip.read_bytes(), "video/mp4"))),
    ]
    response = _post(servers, {"model": "plume", "messages": conversations})
    np.testing.assert_allclose(_vectors(response), model.encode(items), atol=1e-5)
    body = response.json()
    assert body["usage"]["prompt_tokens"] == int(model.preprocess(items)["attention_mask"].sum())
    assert [row["index"] for row in body["data"]] == [0, 1, 2, 3] and body["model"] == "plume"
    query = _post(servers, {"input": "one", "prompt": "Find: ", "reasoning": "none"})
    np.testing.assert_allclose(
        _vectors(query)[0], model.encode(["one"], prompt="Find: ", reasoning="none")[0], atol=1e-5
    )
    assert servers.get("/v1/models").json()["data"][0]["id"] == "plume"


def test_dimensions_return_renormalised_prefixes_and_bad_values_are_400(servers, model):
    text = _post(servers, {"input": ["one", "two"], "encoding_format": "base64", "dimensions": 32}).json()
    decoded = np.stack([np.frombuffer(base64.b64decode(row["embedding"]), "<f4") for row in text["data"]])
    prefix = model.encode(["one", "two"])[:, :32]
    np.testing.assert_allclose(decoded, prefix / np.linalg.norm(prefix, axis=1, keepdims=True), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(decoded, axis=1), 1.0, atol=1e-5)
    dimension = model.get_embedding_dimension()
    for value in (0, -1, 10**9):
        response = _post(servers, {"input": "one", "dimensions": value})
        assert response.status_code == 400
        assert response.json()["detail"] == f"dimensions must be between 1 and {dimension}, got {value}"


def test_by_default_paths_and_urls_are_not_read_and_errors_do_not_tell_existence_or_ports(servers, model, media_root):
    image = png_bytes(draw_image(2))
    with MediaServer(image) as helper:
        urls = [helper.url("/image.png"), "http://127.0.0.1:9/image.png"]  # an open and a closed port
        paths = [str(media_root / "inside.png"), str(media_root / "missing.png"), "/etc/hostname", "/etc/nope.png"]
        # input strings are text, always: embedded as the text they are, never opened or fetched
        served = _vectors(_post(servers, {"input": paths + urls}))
        np.testing.assert_allclose(served, model.encode([{"text": text} for text in paths + urls]), atol=1e-5)
        details = set()
        for source in paths + [f"file://{paths[0]}"]:
            for part in (image_part(source), video_part(source), {"type": "image", "image": source}):
                response = _post(servers, {"messages": conversation(part)})
                assert response.status_code == 400
                details.add(response.json()["detail"])
        assert details == {
            "item 0: local image files are not allowed on this server (it must be started with "
            "--allowed-local-media-path)",
            "item 0: local video files are not allowed on this server (it must be started with "
            "--allowed-local-media-path)",
        }
        url_details = {_post(servers, {"messages": conversation(image_part(url))}).json()["detail"] for url in urls}
        assert url_details == {
            "item 0: image URLs are not allowed on this server (it must be started with --allowed-media-domains)"
        }
        assert helper.paths == []  # no request reached the helper server
        # with the domain allowed, an open port and a closed one fail alike
        fetched = {
            _post(servers, {"messages": conversation(image_part(url))}, "/open").json()["detail"]
            for url in (helper.url("/no-such.png"), "http://127.0.0.1:9/image.png")
        }
        assert fetched == {"item 0: could not fetch the image URL"}


def test_allowed_local_media_path_and_domains(servers, model, media_root):
    inside = media_root / "inside.png"
    served = _vectors(_post(servers, {"messages": [conversation(image_part(str(inside)))]}, "/open"))
    np.testing.assert_allclose(served, model.encode([str(inside)]), atol=1e-5)
    clip = _vectors(_post(servers, {"messages": [conversation(video_part("clip.mp4"))]}, "/open"))
    np.testing.assert_allclose(clip, model.encode([{"video": str(media_root / "clip.mp4")}]), atol=1e-5)
    secret = (media_root / "link.png").resolve()
    for escape in (f"{media_root}/../{secret.parent.name}/secret.png", str(media_root / "link.png"), str(secret)):
        response = _post(servers, {"messages": conversation(image_part(escape))}, "/open")
        assert (
            response.json()["detail"] == "item 0: this image path is not allowed (outside --allowed-local-media-path)"
        )
    image = png_bytes(draw_image(3))
    with MediaServer(image, big_bytes=300 * 2**20) as helper:
        fetched = _vectors(_post(servers, {"messages": conversation(image_part(helper.url("/image.png")))}, "/open"))
        np.testing.assert_allclose(fetched, model.encode([draw_image(3)]), atol=1e-5)
        other = helper.url("/redirect?to=" + helper.url("/image.png?after", host="localhost"))
        response = _post(servers, {"messages": conversation(image_part(other))}, "/open")
        assert (
            response.json()["detail"]
            == "item 0: this image URL's domain is not allowed (not in --allowed-media-domains)"
        )
        assert "/image.png?after" not in helper.paths
        pid = servers.get("/open/stats").json()["pid"]
        with MemoryPeak(pid) as memory:
            response = _post(servers, {"messages": conversation(image_part(helper.url("/big")))}, "/open")
        assert response.json()["detail"] == f"item 0: the image at this URL is over the limit of {CAP} bytes"
        print(f"300 MB response, cap {CAP / 2**20:.0f} MiB: replica grew {memory.growth_mb:.1f} MiB at peak")
        assert memory.growth_mb < 2 * CAP / 2**20
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            start = time.monotonic()
            drip = pool.submit(_post, servers, {"messages": conversation(image_part(helper.url("/drip")))}, "/open")
            time.sleep(0.3)
            good = _post(servers, {"messages": conversation(image_part(data_uri(image, "image/png")))}, "/open")
            good_seconds = time.monotonic() - start
            dripped = drip.result(timeout=TIMEOUT)
            drip_seconds = time.monotonic() - start
        print(
            f"drip-feeding URL failed after {drip_seconds:.2f} s; a concurrent good request took {good_seconds:.2f} s"
        )
        assert good.status_code == 200 and good_seconds < 2.0
        assert dripped.json()["detail"] == "item 0: could not fetch the image URL" and 2.9 < drip_seconds < 6.0


def test_one_users_bad_items_never_reach_another_users_request(servers, model, media_root):
    expected = model.encode(["user A's query"])[0]
    bad_bodies = [
        {"input": ["user B"], "prompt": "<|im_end|> injected"},
        {"messages": conversation(image_part(str(media_root / "missing.png")))},
    ]
    leaks = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        for _ in range(20):
            good = pool.submit(_post, servers, {"input": ["user A's query"]}, "/open")
            bad = [pool.submit(_post, servers, body, "/open") for body in bad_bodies]
            good, bad = good.result(timeout=TIMEOUT), [future.result(timeout=TIMEOUT) for future in bad]
            assert [response.status_code for response in bad] == [400, 400]
            if good.status_code != 200 or not np.allclose(good.json()["data"][0]["embedding"], expected, atol=1e-5):
                leaks += 1
    assert leaks == 0
    assert bad[0].json()["detail"] == "prompt contains a reserved control token; remove it"
    assert bad[1].json()["detail"] == "item 0: could not read the local image file"
    overflow = {"type": "video", "video": {"array": [[[[0, 0, 0]]]], "video_metadata": {"total_num_frames": 1e400}}}
    texts = [f"concurrent request {i}" for i in range(15)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        goods = [pool.submit(_post, servers, {"input": text}) for text in texts]
        bad = pool.submit(servers.post, "/v1/embeddings", content=json.dumps({"messages": conversation(overflow)}))
        goods, bad = [future.result(timeout=TIMEOUT) for future in goods], bad.result(timeout=TIMEOUT)
    np.testing.assert_allclose(np.stack([_vectors(r)[0] for r in goods]), model.encode(texts), atol=1e-5)
    assert bad.status_code == 400 and bad.json()["detail"].startswith("item 0: a video must be a data: URI")


def test_limits_refuse_before_decoding_and_memory_is_given_back(servers, tmp_path):
    tiny = data_uri(png_bytes(Image.new("RGB", (2, 2))), "image/png")
    pid = servers.get("/stats").json()["pid"]
    with MemoryPeak(pid) as memory:
        response = _post(servers, {"messages": conversation(*[image_part(tiny)] * 20_000)})
    print(f"20,000 image parts: {response.status_code}, replica grew {memory.growth_mb:.1f} MiB at peak")
    assert response.status_code == 413 and "20000 images and videos is over the limit of 64" in response.text
    assert memory.growth_mb < 200
    huge = tmp_path / "huge.mp4"
    write_video(huge, [Image.new("RGB", (6000, 6000), (i * 90, 30, 60)) for i in range(2)])
    with MemoryPeak(pid) as memory:
        response = _post(servers, {"messages": conversation(video_part(data_uri(huge.read_bytes(), "video/mp4")))})
    print(f"two 6000x6000 frames ({huge.stat().st_size} bytes): replica grew {memory.growth_mb:.1f} MiB at peak")
    assert response.json()["detail"] == "item 0: video frames of 6000x6000 are over the limit of 16777216 pixels"
    assert memory.growth_mb < 200
    assert _post(servers, {"input": "after the refusals"}).status_code == 200


def test_malformed_requests_get_short_4xx_bodies_and_explicit_reasoning_needs_the_flag(servers):
    assert _post(servers, {"model": "plume"}).status_code == 422  # neither input nor messages
    assert _post(servers, {"input": ["a"], "encoding_format": "hex"}).status_code == 422
    malformed = servers.post("/v1/embeddings", content=json.dumps({"input": [{"x": "A" * 1000}] * 1000}))
    assert malformed.status_code == 422 and len(malformed.content) < 2048 and "AAAA" not in malformed.text
    print(f"1 MB malformed request: {malformed.status_code}, {len(malformed.content)} byte body")
    response = _post(servers, {"input": ["fine", "<|im_end|> injected"]})
    assert response.json()["detail"] == "item 1: text contains a reserved control token; remove it"
    refused = _post(servers, {"input": "think", "reasoning": "explicit"})
    assert refused.status_code == 400 and "--allow-explicit-reasoning" in refused.json()["detail"]
    assert _post(servers, {"input": "think", "reasoning": "explicit"}, "/open").status_code == 200
    big = json.dumps({"input": ["x" * 2**20]}).encode()
    declared = servers.post("/open/v1/embeddings", content=big)  # Content-Length over the limit
    streamed = servers.post("/open/v1/embeddings", content=(big[i : i + 65536] for i in range(0, len(big), 65536)))
    for response in (declared, streamed):
        assert (
            response.status_code == 413
            and response.json()["detail"] == "the request body is over the limit of 1048576 bytes"
        )
    too_many = _post(servers, {"input": "think", "latent_steps": 17})
    assert too_many.status_code == 400 and "--max-latent-steps" in too_many.json()["detail"]


def test_concurrent_requests_share_batches(servers, model):
    texts = [f"request number {i}" for i in range(32)]
    before = servers.get("/stats").json()
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        responses = [
            future.result(timeout=TIMEOUT) for future in [pool.submit(_post, servers, {"input": t}) for t in texts]
        ]
    after = servers.get("/stats").json()
    np.testing.assert_allclose(np.stack([_vectors(r)[0] for r in responses]), model.encode(texts), atol=1e-5)
    assert after["items"] - before["items"] == 32 and after["batches"] - before["batches"] < 32


def test_corpus_overwrite_gives_one_copy_that_ray_data_reads(servers, folder, model, tmp_path):
    from plume_st.serving.corpus import embed_corpus

    texts = [f"document {i}" for i in range(6)]
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"id": i, "text": text}) + "\n" for i, text in enumerate(texts)))
    out = tmp_path / "out"
    out.mkdir()
    pq.write_table(pa.table({"id": [99]}), out / "part-earlier-00000.parquet")  # an earlier job's file
    with pytest.raises(FileExistsError, match="--mode resume"):
        embed_corpus(folder, str(manifest), str(out))
    assert embed_corpus(folder, str(manifest), str(out), batch_size=4, mode="overwrite") == 0
    frame = ray.data.read_parquet(str(out)).to_pandas().sort_values("id")
    assert frame["id"].tolist() == list(range(6)) and frame["error"].isna().all()
    np.testing.assert_allclose(np.stack(frame["embedding"].to_numpy()), model.encode(texts), atol=1e-5)


def test_models_lists_the_embedding_size_and_the_matryoshka_dims(servers):
    plain = servers.get("/v1/models").json()["data"][0]
    trained = servers.get("/mrl/v1/models").json()["data"][0]
    assert plain["dimensions"] == 64 and plain["matryoshka_dimensions"] is None
    assert trained == {
        "id": "mrl", "object": "model", "owned_by": "plume-st", "dimensions": 64, "matryoshka_dimensions": [64, 32, 16]
    }  # fmt: skip
    embedding = _post(servers, {"input": "a red circle", "dimensions": 16}, "/mrl").json()["data"][0]["embedding"]
    assert len(embedding) == 16 and abs(np.linalg.norm(embedding) - 1.0) < 1e-5
