"""The explorer's server is local-only unless told otherwise: it has no authentication."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest

from browser_util import APP, REPO, free_port, stop_process_group, wait_healthy
from net_util import accepts, exposed, listen_addresses, machine_addresses

pytestmark = pytest.mark.skipif(not os.path.isfile("/proc/net/tcp"), reason="reads Linux's /proc/net/tcp")


@contextlib.contextmanager
def running(command: list[str], port: int, cwd, env: dict | None = None):
    """Start `command` (a Streamlit server on `port`); yield once it answers on 127.0.0.1; stop it."""
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, timeout_s=90)
        yield process
    finally:
        stop_process_group(process, timeout=15)


def test_streamlit_run_from_the_checkout_listens_on_loopback_only():
    # The README's command, with no --server.address: the project's .streamlit/config.toml decides.
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(APP.relative_to(REPO)),
               "--server.port", str(port), "--server.headless", "true"]
    others = [a for a in machine_addresses() if not a.is_loopback]
    with running(command, port, cwd=REPO):
        addresses = listen_addresses(port)
        reachable = [str(a) for a in others if accepts(a, port)]
    assert addresses, f"nothing listens on port {port}"
    assert exposed(addresses) == [], f"listening on {exposed(addresses)}"
    assert reachable == [], f"accepts connections on this machine's address {reachable}"
