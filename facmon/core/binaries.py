"""Finding the server programs facmon runs (mosquitto, mosquitto_passwd, influxd), and what to say when one is
missing. Production code (broker-config) needs this as much as the local servers of tests and the demo
(facmon.demo.localstack), which is why it lives here and not there.
"""

from __future__ import annotations

import os
import shutil

from facmon.core.errors import FacmonError

INSTALL_HINT = (
    "install with `bash scripts/setup.sh` (or `make setup`), or by hand: "
    "sudo apt-get install -y mosquitto mosquitto-clients influxdb influxdb-client"
)

# Debian puts mosquitto in /usr/sbin, which a non-root PATH often lacks.
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


class ServerUnavailable(FacmonError, RuntimeError):
    """A server binary is not installed, so the server cannot run on this machine at all."""


def require_binary(name: str) -> str:
    """Return the full path of executable `name`, also searching the sbin dirs; raise ServerUnavailable."""
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *_SBIN_DIRS])
    path = shutil.which(name, path=search)
    if path is None:
        raise ServerUnavailable(f"`{name}` not found on PATH or in {', '.join(_SBIN_DIRS)}; {INSTALL_HINT}")
    return path
