"""A real, size-limited file system for full-disk tests: a 2 MiB tmpfs mounted for one test.

Mounting needs root. The test machines and CI run as root (Debian), so a tmpfs that cannot be
mounted fails the test instead of skipping it: a silently skipped full-disk test proves nothing.
The mount is always unmounted afterwards (lazily if a file is still open, so a failing test cannot
leave it behind).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["SmallDisk", "small_disk"]

SIZE = "2m"


class SmallDisk:
    """The mounted file system, and a filler file that takes whatever space is left."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"

    def fill(self) -> int:
        """Write the filler until the file system refuses (ENOSPC); returns the bytes it took."""
        written = 0
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for chunk in (64 * 1024, 4096, 512, 1):
                block = b"\0" * chunk
                while True:
                    try:
                        written += os.write(fd, block)
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)
        return written

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def file_bytes(self, *names: str) -> int:
        """Sizes on disk (st_size) of the named files under root that exist."""
        return sum((self.root / n).stat().st_size for n in names if (self.root / n).exists())


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.fail("full-disk tests mount a tmpfs and need root (the test machines and CI run as root)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a {SIZE} tmpfs at {mount_point}: {mounted.stderr.strip()}")
    try:
        yield SmallDisk(mount_point)
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(mount_point)], check=True)
