"""Helpers of the serving tests: media files and data URIs, and an HTTP server on 127.0.0.1 in a thread that records
the paths it was asked for (every loop bounded)."""

from __future__ import annotations

import base64
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import av
import numpy as np
from PIL import Image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def write_video(path, frames: list[Image.Image], codec: str = "mpeg4") -> None:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=4)
        stream.width, stream.height, stream.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def image_part(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def video_part(url: str) -> dict:
    return {"type": "video_url", "video_url": {"url": url}}


def conversation(*parts: dict) -> list[dict]:
    return [{"role": "user", "content": list(parts)}]


class MediaServer:
    """``/image.png`` (a PNG), ``/big`` (``big_bytes`` of zeros, sent in 1 MiB chunks), ``/drip`` (one byte every
    ``drip_s`` seconds, at most 200), ``/redirect?to=URL`` (302), anything else 404; ``paths`` records each request."""

    def __init__(self, image: bytes, big_bytes: int = 300 * 1024 * 1024, drip_s: float = 0.25) -> None:
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (the http.server name)
                owner.paths.append(self.path)
                try:
                    if self.path == "/image.png":
                        self._send(200, image)
                    elif self.path == "/big":
                        self.send_response(200)
                        self.send_header("Content-Type", "application/octet-stream")
                        self.end_headers()
                        chunk = bytes(1024 * 1024)
                        for _ in range(big_bytes // len(chunk)):
                            self.wfile.write(chunk)
                    elif self.path == "/drip":
                        self.send_response(200)
                        self.send_header("Content-Type", "image/png")
                        self.end_headers()
                        for _ in range(200):
                            self.wfile.write(b"\x89")
                            self.wfile.flush()
                            time.sleep(drip_s)
                    elif self.path.startswith("/redirect?to="):
                        self.send_response(302)
                        self.send_header("Location", self.path[len("/redirect?to=") :])
                        self.end_headers()
                    else:
                        self._send(404, b"not found")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> MediaServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class MemoryPeak:
    """Peak resident memory of a process, sampled every 10 ms in a thread while the block runs."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.baseline = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        for _ in range(100_000):  # bounded: at most ~17 minutes
            self.peak = max(self.peak, self.process.memory_info().rss)
            if self._stop.wait(0.01):
                return

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / 2**20

    def __enter__(self) -> MemoryPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def frames_array(frames: list[Image.Image]) -> np.ndarray:
    return np.stack([np.asarray(frame) for frame in frames])
