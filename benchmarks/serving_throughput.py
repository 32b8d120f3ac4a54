"""Throughput of the Ray Serve embeddings server against offline ``encode`` at the same batch size, in one run.

Builds a PLUME model on a random Qwen2-VL backbone of a chosen size, encodes the same texts offline with
``model.encode(batch_size=B)``, then starts the server on 127.0.0.1 (``max_batch_size=B``) and sends every text as its
own request from ``--clients`` concurrent clients. Prints items/s of both, the served / offline ratio (the goal is
at least 0.8) and the server's batch count (fewer batches than requests: requests were batched together). With
``--dtypes float32,bfloat16`` it measures both in the same run, one after the other on the same texts (the offline
model and every replica loaded with ``model_kwargs={"dtype": ...}``). Served vectors must equal ``encode``'s to 1e-4 in
float32; in bfloat16 the server's batches, made of other rows than the offline ones, round differently, and the
smallest cosine between the two (at least 0.999) is printed.

    python benchmarks/serving_throughput.py --size small --items 128 --batch-size 16 --clients 32
    python benchmarks/serving_throughput.py --size small --dtypes float32,bfloat16
"""

from __future__ import annotations

import argparse
import concurrent.futures
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import ray
import torch
from random_backbone import SIZES, make_backbone
from ray import serve
from sentence_transformers import SentenceTransformer

import plume_st
from plume_st.serving import build_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--items", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--batch-wait-ms", type=float, default=20.0)
    parser.add_argument("--dtypes", default="float32", help="comma-separated: float32, bfloat16, float16")
    args = parser.parse_args()
    dtypes = [name.strip() for name in args.dtypes.split(",") if name.strip()]
    if not dtypes or set(dtypes) - {"float32", "bfloat16", "float16"}:
        parser.error(f"--dtypes takes float32, bfloat16 and float16, got {args.dtypes!r}")

    folder = Path(tempfile.mkdtemp()) / "plume"
    model = plume_st.build_plume_model(str(make_backbone(folder.parent / "backbone", args.size)), device="cpu")
    model.save_pretrained(str(folder))
    texts = [f"item {i}: " + "words " * (5 + i % 11) for i in range(args.items)]

    ray.init(include_dashboard=False, log_to_driver=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    header = [
        "dtype",
        f"offline encode, batch {args.batch_size} (items/s)",
        f"server, {args.clients} concurrent single-item requests (items/s)",
        "served / offline",
        "server batches",
        "smallest cosine served / offline",
    ]
    print(f"| {' | '.join(header)} |\n|{'---|' * len(header)}")
    for dtype in dtypes:
        model_kwargs = {"dtype": getattr(torch, dtype)}
        offline_rate, offline = offline_encode(str(folder), texts, args.batch_size, model_kwargs)
        app = build_app(
            str(folder), max_batch_size=args.batch_size, batch_wait_ms=args.batch_wait_ms, model_kwargs=model_kwargs
        )
        serve.run(app, route_prefix="/")
        served_rate, served, batches = served_encode(port, texts, args.clients)
        served = np.array(served)
        if dtype == "float32":
            assert np.abs(served - offline).max() < 1e-4, "float32: served vectors differ from encode"
        cosine = float((served * offline).sum(axis=1).min())  # batches differ: bfloat16 rounds them differently
        assert cosine >= 0.999, f"{dtype}: served vectors differ from encode (cosine {cosine:.5f})"
        print(
            f"| {dtype} | {offline_rate:.2f} | {served_rate:.2f} | {served_rate / offline_rate:.2f}x "
            f"| {batches} for {args.items} requests | {cosine:.5f} |"
        )
    serve.shutdown()
    ray.shutdown()


def offline_encode(
    folder: str, texts: list[str], batch_size: int, model_kwargs: dict[str, Any]
) -> tuple[float, np.ndarray]:
    """items/s and vectors of ``model.encode(texts)`` with the folder loaded with ``model_kwargs``."""
    model = SentenceTransformer(folder, trust_remote_code=True, device="cpu", model_kwargs=model_kwargs)
    model.encode(texts[:batch_size], batch_size=batch_size)  # warm up
    start = time.perf_counter()
    vectors = model.encode(texts, batch_size=batch_size)
    return len(texts) / (time.perf_counter() - start), vectors


def served_encode(port: int, texts: list[str], clients: int) -> tuple[float, list[list[float]], int]:
    """items/s, vectors and server batches of every text sent as its own request from ``clients`` threads."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:

        def post(text: str) -> list[float]:
            response = client.post("/v1/embeddings", json={"input": text})
            response.raise_for_status()
            return response.json()["data"][0]["embedding"]

        post(texts[0])  # warm up
        before = client.get("/stats").json()
        with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
            start = time.perf_counter()
            served = list(pool.map(post, texts))
            rate = len(texts) / (time.perf_counter() - start)
        after = client.get("/stats").json()
    return rate, served, after["batches"] - before["batches"]


if __name__ == "__main__":
    main()
