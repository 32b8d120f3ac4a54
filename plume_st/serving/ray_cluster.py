"""Joining a Ray cluster, or starting a local Ray that listens on the loopback address only.

Ray's processes (GCS, raylet, object manager, agents, workers) listen on the node's address. A local Ray started for
a server on a loopback host, or for a corpus job, is kept on ``127.0.0.1``: Ray takes the loopback address as the
node's address when ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (its single-machine mode), which the started processes
inherit. A cluster (``address``) is the operator's to secure: Ray's token authentication, a private network.
"""

from __future__ import annotations

import ipaddress
import os

LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start_ray(address: str | None = None, host: str = "127.0.0.1", **init_kwargs: object) -> None:
    """``ray.init`` unless Ray is running; a local Ray (no ``address``) for a loopback ``host`` stays on loopback.

    Args:
        address: A Ray cluster (``ray://head:10001``); ``None`` starts a local Ray.
        host: The address the caller's own server listens on (a corpus job passes the default, loopback).
        **init_kwargs: More ``ray.init`` arguments.
    """
    if address is None and is_loopback(host):
        os.environ[LOCAL_ONLY_ENV] = "0"
    import ray

    if ray.is_initialized():
        return
    if address is None and is_loopback(host):
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False  # read when Ray was imported; the started processes read the env
    ray.init(address=address, include_dashboard=False, **init_kwargs)
