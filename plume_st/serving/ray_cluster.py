"""Joining a Ray cluster, or starting a local Ray that listens on the loopback address only.

Ray's processes (GCS, raylet, object manager, agents, workers) listen on the node's address. A local Ray started for
a server on a loopback host, or for a corpus job, is kept on ``127.0.0.1``: Ray takes the loopback address as the
node's address when ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (its single-machine mode), which the started processes
inherit; each Serve replica also binds its inter-deployment gRPC server there (:func:`keep_replica_on_loopback`).
A cluster (``address``) is the operator's to secure: Ray's token authentication, a private network.
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


def keep_replica_on_loopback() -> None:
    """In a loopback-only local Ray, bind this Serve replica's inter-deployment gRPC server to ``127.0.0.1``.

    Ray Serve 2.60 starts that server on ``[::]:0`` (every interface) whatever the node's address, after the
    deployment's ``__init__`` has run; the replica calls this from its ``__init__``. Other processes reach the replica
    at the node's address, which is ``127.0.0.1`` here. Outside loopback mode nothing changes.
    """
    if os.environ.get(LOCAL_ONLY_ENV) != "0":
        return
    from ray.serve._private import replica

    bind = replica.add_port_to_grpc_server
    if getattr(bind, "loopback_only", False):
        return

    def bind_on_loopback(server: object, address: str) -> int:
        return bind(server, address.replace("[::]", "127.0.0.1", 1))

    bind_on_loopback.loopback_only = True
    replica.add_port_to_grpc_server = bind_on_loopback
