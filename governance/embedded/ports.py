"""``governance.embedded.ports``: free TCP ports on the loopback address, for the embedded
stack's processes (Airflow's API server and log servers in :mod:`.airflow` and
:mod:`.launcher`, SeaweedFS's components in :mod:`.s3server`) and for the tests."""

from __future__ import annotations

import socket

from governance.s3 import DEFAULT_HOST


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = DEFAULT_HOST) -> bool:
    """Whether something holds ``port`` (a socket in TIME_WAIT does not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def port_free(port: int, host: str = DEFAULT_HOST) -> bool:
    return not port_in_use(port, host)


def port_or_free(port: int, host: str = DEFAULT_HOST) -> int:
    """``port`` if nobody holds it, else a free one."""
    return port if port_free(port, host) else free_port(host)
