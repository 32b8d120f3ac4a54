"""``GET /v1/models`` reports the served model's embedding size and the Matryoshka dims it was trained for (a model
without them reports ``None``: :func:`plume_st.model.matryoshka_dims`, tested in ``tests/training``)."""

from __future__ import annotations

import pytest
from serving.media_helpers import free_port

import plume_st
from plume_st.model import set_matryoshka_dims

ray = pytest.importorskip("ray")
httpx = pytest.importorskip("httpx")
from ray import serve  # noqa: E402

from plume_st.serving.server import build_app  # noqa: E402


def test_models_lists_the_matryoshka_dims(tiny_backbone, tmp_path):
    from plume_st.serving.ray_cluster import start_ray

    model = plume_st.build_plume_model(str(tiny_backbone("qwen2_vl")), latent_steps=1, device="cpu")
    set_matryoshka_dims(model, [16, 64, 32])
    model.save_pretrained(str(tmp_path / "mrl"))
    start_ray(num_cpus=2, log_to_driver=False)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        serve.run(build_app(str(tmp_path / "mrl"), served_name="mrl"), name="mrl", route_prefix="/mrl")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60.0) as client:
            trained = client.get("/mrl/v1/models").json()["data"][0]
            embedding = client.post("/mrl/v1/embeddings", json={"input": "a red circle", "dimensions": 16}).json()
    finally:
        serve.shutdown()
        ray.shutdown()
    assert trained == {
        "id": "mrl", "object": "model", "owned_by": "plume-st", "dimensions": 64, "matryoshka_dimensions": [64, 32, 16]
    }  # fmt: skip
    assert len(embedding["data"][0]["embedding"]) == 16
