"""Files facmon writes for itself or another program to read: whole or not at all, never through a link."""

from __future__ import annotations

import contextlib
import os
import secrets


def write_atomic(dir_fd: int, name: str, data: str | bytes, mode: int) -> None:
    """Write ``name`` in the directory ``dir_fd`` atomically with ``mode``: a new file of a random name, then rename.

    O_EXCL | O_NOFOLLOW: the temporary file is always new, so nothing planted is followed or truncated, and the
    rename replaces the directory entry itself. A reader never sees half a file.
    """
    tmp = f".{name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)  # the umask may have narrowed it; never widened beyond `mode`
            os.fsync(handle.fileno())
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
