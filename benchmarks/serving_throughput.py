"""Throughput of the Ray Serve embeddings server against offline ``encode`` at the same batch size, in one run.

Builds a PLUME model on a random Qwen2-VL backbone of a chosen size, encodes the same texts offline with
``model.encode(batch_size=B)``, then starts the server on 127.0.0.1 (``max_batch_size=B``) and sends every text as its
own request from ``--clients`` concurrent clients. Prints items/s of both, the served / offline ratio (the goal is
at least 0.8) and the server's batch count (fewer batches than requests: requests were batched together).

    python benchmarks/serving_throughput.py --size small --items 128 --batch-size 16 --clients 32
"""

from __future__ import annotations

import argparse
import concurrent.futures
import socket
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import ray
from random_backbone import SIZES, make_backbone
from ray import serve

import plume_st
from plume_st.serving import build_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--items", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--batch-wait-ms", type=float, default=20.0)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp()) / "plume"
    model = plume_st.build_plume_model(str(make_backbone(folder.parent / "backbone", args.size)), device="cpu")
    model.save_pretrained(str(folder))
    texts = [f"item {i}: " + "words " * (5 + i % 11) for i in range(args.items)]
    model.encode(texts[: args.batch_size], batch_size=args.batch_size)  # warm up
    start = time.perf_counter()
    offline = model.encode(texts, batch_size=args.batch_size)
    offline_rate = args.items / (time.perf_counter() - start)

    ray.init(include_dashboard=False, log_to_driver=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(
        build_app(str(folder), max_batch_size=args.batch_size, batch_wait_ms=args.batch_wait_ms), route_prefix="/"
    )
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:

        def post(text: str) -> list[float]:
            response = client.post("/v1/embeddings", json={"input": text})
            response.raise_for_status()
            return response.json()["data"][0]["embedding"]

        post(texts[0])  # warm up
        before = client.get("/stats").json()
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.clients) as pool:
            start = time.perf_counter()
            served = list(pool.map(post, texts))
            served_rate = args.items / (time.perf_counter() - start)
        after = client.get("/stats").json()
    serve.shutdown()
    ray.shutdown()
    assert np.abs(np.array(served) - offline).max() < 1e-4, "served vectors differ from encode"
    print(f"| way | items/s |\n|---|---|\n| offline encode, batch {args.batch_size} | {offline_rate:.2f} |")
    print(f"| server, {args.clients} concurrent single-item requests | {served_rate:.2f} |")
    print(
        f"served / offline: {served_rate / offline_rate:.2f}x; {args.items} requests in "
        f"{after['batches'] - before['batches']} batches"
    )


if __name__ == "__main__":
    main()
