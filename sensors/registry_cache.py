"""A cache of validated registries, so a province's registry is read from YAML once, not on every run.

PyYAML builds Python objects node by node: a 20,000-facility registry (10 MB, over a million nodes) takes tens of
seconds to parse, longer than the daily analysis of it. After a registry has been read and validated, its meaning
(``Registry.model_dump_json``) is kept under the SHA-256 of the file's bytes; the next run that finds the same
bytes validates that JSON instead (pydantic's own parser, every validator still applied) and skips YAML.

The cache can only ever hand back what some earlier run validated from a file with the same bytes:

- the key is the hash of the file's bytes and the cache format, so any edit (one byte) misses;
- an entry is written only when reading it back gives an equal registry, and is validated again when read;
- entries are read only from a directory and files owned by this user that nobody else can write (0700/0600),
  opened without following links, and written atomically (facmon.core.files);
- any problem with the cache (unwritable, damaged, foreign) costs time, never correctness: the YAML is read.

Small registries are not cached: their YAML reads in well under a second.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
from pathlib import Path

from facmon.core.files import write_atomic

log = logging.getLogger(__name__)

FORMAT = b"facmon-registry-cache-1"
#: registries smaller than this are read from YAML every time (about 250 facilities)
MIN_BYTES = 128 * 1024
#: entries kept per directory, newest first (an operator switching between a few registries keeps them all)
KEEP = 8
_PREFIX = "registry-"


def key(data: bytes) -> str:
    """The entry name of a registry file with these bytes."""
    digest = hashlib.sha256(FORMAT + b"\0" + data).hexdigest()
    return f"{_PREFIX}{digest}.json"


def _private(info: os.stat_result) -> bool:
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def read(directory: Path, name: str) -> bytes | None:
    """The entry's bytes, or None when it is missing or not private to this user."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(dir_fd)
        if not _private(info):
            log.warning("registry cache %s is not private to this user; not using it", directory)
            return None
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as handle:
            if not _private(os.fstat(handle.fileno())):
                log.warning("registry cache entry %s/%s is not private to this user; not using it", directory, name)
                return None
            return handle.read()
    finally:
        os.close(dir_fd)


def write(directory: Path, name: str, data: bytes) -> None:
    """Keep an entry (0600 in a 0700 directory) and drop the oldest beyond KEEP; failures are only logged."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        log.debug("registry cache %s unusable: %s", directory, exc)
        return
    try:
        if not _private(os.fstat(dir_fd)):
            log.warning("registry cache %s is not private to this user; not writing to it", directory)
            return
        write_atomic(dir_fd, name, data, 0o600)
        _prune(dir_fd)
    except OSError as exc:
        log.debug("could not keep the registry in %s: %s", directory, exc)
    finally:
        os.close(dir_fd)


def _prune(dir_fd: int) -> None:
    entries = []
    for entry in os.listdir(dir_fd):
        if entry.startswith(_PREFIX) and entry.endswith(".json"):
            with contextlib.suppress(OSError):
                entries.append((os.stat(entry, dir_fd=dir_fd, follow_symlinks=False).st_mtime_ns, entry))
    for _, entry in sorted(entries, reverse=True)[KEEP:]:
        with contextlib.suppress(OSError):
            os.unlink(entry, dir_fd=dir_fd)
