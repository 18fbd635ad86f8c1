"""Linux's immutable inode attribute (``chattr +i``), the strongest lock a filesystem offers.

An immutable file cannot be written, renamed, linked or deleted — not even by root — until
someone holding ``CAP_LINUX_IMMUTABLE`` clears the flag. It is not WORM (the flag can be
cleared), but it turns an accidental ``rm -rf`` or a careless script into a refusal. Setting it
needs that capability and a filesystem that supports it (ext4, xfs, btrfs; not tmpfs), so
callers must treat every failure as "not available here".
"""

from __future__ import annotations

import array
import fcntl
import os
import sys

# <linux/fs.h>: _IOR('f', 1, long) / _IOW('f', 2, long) on 64-bit Linux.
FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_IMMUTABLE_FL = 0x00000010


def read_flags(path: str | os.PathLike[str]) -> int:
    """The inode flags of ``path``. :raises OSError: unsupported here."""
    _require_linux()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        flags = array.array("l", [0])
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, flags, True)
        return int(flags[0])
    finally:
        os.close(fd)


def set_immutable(path: str | os.PathLike[str], immutable: bool = True) -> None:
    """Set (or clear) the immutable flag. :raises OSError: not permitted or unsupported."""
    _require_linux()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        flags = array.array("l", [0])
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, flags, True)
        if immutable:
            flags[0] |= FS_IMMUTABLE_FL
        else:
            flags[0] &= ~FS_IMMUTABLE_FL
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, flags)
    finally:
        os.close(fd)


def is_immutable(path: str | os.PathLike[str]) -> bool:
    try:
        return bool(read_flags(path) & FS_IMMUTABLE_FL)
    except OSError:
        return False


def _require_linux() -> None:
    if not sys.platform.startswith("linux"):
        raise OSError(95, "inode flags are only supported on Linux")  # EOPNOTSUPP
