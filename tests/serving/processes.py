"""Running a ``plume-st`` command in its own session, and ending every process it started (by id)."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

PLUME_ST = str(Path(sys.executable).parent / "plume-st")


def start(args: list[str], log: Path, **env: str) -> subprocess.Popen:
    """``plume-st ARGS`` in a new session (its own process group), output to ``log``."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **env}
    with open(log, "wb") as output:
        return subprocess.Popen(
            [PLUME_ST, *args], stdout=output, stderr=subprocess.STDOUT, env=environment, start_new_session=True
        )


def started_by(process: subprocess.Popen) -> list[psutil.Process]:
    """The process and every process it started: its descendants and the members of its session."""
    found: dict[int, psutil.Process] = {}
    try:
        root = psutil.Process(process.pid)
        for member in [root, *root.children(recursive=True)]:
            found[member.pid] = member
    except psutil.NoSuchProcess:
        pass
    for candidate in psutil.process_iter():
        try:
            if os.getsid(candidate.pid) == process.pid:
                found[candidate.pid] = candidate
        except (OSError, psutil.Error):
            continue
    return list(found.values())


def end(process: subprocess.Popen, how: int = signal.SIGKILL) -> None:
    """Send ``how`` to the process and to every process it started, by id; wait for the process."""
    for member in started_by(process):
        try:
            member.send_signal(how)
        except psutil.Error:
            continue
    process.wait(timeout=60)
    psutil.wait_procs([member for member in started_by(process) if member.pid != process.pid], timeout=30)


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def listening(processes: list[psutil.Process]) -> list[tuple[str, str, int]]:
    """``(process name, address, port)`` of every listening TCP socket of ``processes``."""
    sockets = []
    for member in processes:
        try:
            name = member.name()
            for connection in member.net_connections(kind="tcp"):
                if connection.status == psutil.CONN_LISTEN:
                    sockets.append((name, connection.laddr.ip, connection.laddr.port))
        except psutil.Error:
            continue
    return sockets


def wait_until_healthy(client: Any, server: subprocess.Popen, log: Path, seconds: int = 300) -> None:
    """Poll ``GET /health`` once a second until it answers 200 (bounded: ``seconds`` tries); fail with the log's tail
    if the server exits first or never answers."""
    import httpx
    import pytest

    for _ in range(seconds):
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None, log.read_text()[-3000:]
        time.sleep(1)
    pytest.fail(f"the server did not start in {seconds} s")
