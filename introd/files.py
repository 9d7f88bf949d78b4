"""The files introd keeps: created private (0600, folders 0700) whatever the umask, and
never through a symbolic link.

The state database holds the reply tokens' inputs and every party's address, the secret
makes valid tokens: a link planted where one of them is created could make introd write
it somewhere readable, or read someone else's file. So a link at any of these paths is
refused with one line, files are created with ``O_EXCL | O_NOFOLLOW`` and their mode set
with ``fchmod`` (the umask cannot widen it), and an existing file with group or other
bits is tightened. ``private_umask`` makes everything else introd writes private too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path


from .exceptions import ConfigError


FILE_MODE = 0o600
DIR_MODE = 0o700


class UnsafePath(OSError):
    """A path introd will not create or open: a symbolic link, or not a regular file."""


def refuse_link(path: Path) -> None:
    """Raise UnsafePath when ``path`` is a symbolic link (dangling or not) or exists but is
    not a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePath(
            f"{path} is a symbolic link; introd does not follow links for "
            "its state and secret files (use the real path)"
        )
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(f"{path} is not a regular file")


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents with mode 0700 (existing ones untouched)."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        if current.is_symlink():  # a dangling link where a folder should be
            raise UnsafePath(f"{current} is a dangling symbolic link")
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for part in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, DIR_MODE)
            os.chmod(part, DIR_MODE)


def cache_root() -> Path | None:
    """introd's cache folder, kept from one start to the next: systemd's
    ``$CACHE_DIRECTORY`` (``CacheDirectory=``), else ``$XDG_CACHE_HOME/introd``, else
    ``~/.cache/introd``. None when there is no such folder or it is not safe: it must be a
    folder of this user that no one else may write. It may be reached through a link
    (systemd's ``DynamicUser=`` makes ``/var/cache/introd`` one, to
    ``/var/cache/private/introd``): what counts is the folder it leads to; what introd
    keeps in it is never opened through one."""
    if found := os.environ.get("CACHE_DIRECTORY"):
        base = Path(found.split(":")[0])
    elif found := os.environ.get("XDG_CACHE_HOME"):
        base = Path(found) / "introd"
    elif found := os.environ.get("HOME"):
        base = Path(found) / ".cache" / "introd"
    else:
        return None
    return base if private_folder(base, follow=True) else None


def private_folder(folder: Path, *, follow: bool = False) -> bool:
    """FOLDER, made if missing: a real folder of this user that no one else may write
    (with FOLLOW, the folder a link there leads to)."""
    try:
        make_private_dirs(folder)
        st = os.stat(folder) if follow else os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def read_own(path: Path) -> bytes | None:
    """The content of a file of introd's own, never read through a link; None when it is
    missing, a link, not a regular file (a FIFO is not waited on) or unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return f.read()


def cache_file(name: str) -> tuple[Callable[[], bytes | None], Callable[[bytes], None]]:
    """Reading and writing of the file NAME in the cache folder (``cache_root``, looked
    up when first needed): never through a link; without a safe folder the reading finds
    nothing and the writing does nothing."""

    def read() -> bytes | None:
        root = cache_root()
        return None if root is None else read_own(root / name)

    def write(data: bytes) -> None:
        root = cache_root()
        if root is not None:
            replace_private(root / name, data)

    return read, write


def tighten(path: Path) -> bool:
    """Take group and other bits off an existing regular file; True when it changed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o077:
        return False
    try:
        os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o077, follow_symlinks=False)
    except PermissionError:  # someone else's file, only read here (`introd list` as admin)
        return False
    return True


def create_private(path: Path, data: bytes = b"") -> bool:
    """Create ``path`` with mode 0600 holding ``data``; False when it already exists (it
    is then left alone). Never follows a link; the folder is made 0700 if missing."""
    refuse_link(path)
    make_private_dirs(path.parent)
    try:
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE
        )
    except FileExistsError:
        refuse_link(path)  # a link planted between the check and the open
        return False
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def replace_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with a 0600 file holding ``data``: written to a temp
    file beside it, synced, renamed over it, and the folder synced. Never through a link:
    one at the temp name is removed, one at the path is replaced (a caller that must
    refuse it calls ``refuse_link`` first). Raises OSError."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.unlink(missing_ok=True)  # a link planted at the temp name goes, unfollowed
        if not create_private(tmp, data):  # another writer's temp file appeared meanwhile
            raise FileExistsError(f"{tmp} exists")
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def open_private(path: Path, flags: int) -> int:
    """Open (creating if needed) a file of introd's own, mode 0600, never through a link."""
    refuse_link(path)
    make_private_dirs(path.parent)
    fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath(f"{path} is not a regular file")
        if st.st_mode & 0o077:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & ~0o077)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Within: every file introd creates is private to its user (umask 077)."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def load_secret(path: Path) -> bytes:
    """Read the secret, creating it (mode 0600, never through a link) when missing."""
    try:
        refuse_link(path)
        if not path.exists():
            create_private(path, secrets.token_hex(32).encode() + b"\n")
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            data = f.read().strip()
        if tighten(path):
            import structlog  # only here: `introd parse` loads no logging otherwise

            structlog.get_logger("introd.files").warning(
                "secret_permissions_tightened", path=str(path)
            )
    except UnsafePath as exc:
        raise ConfigError([("secret_file", str(exc))]) from None
    except OSError as exc:
        raise ConfigError(
            [("secret_file", f"cannot read or create {path}: {exc.strerror or exc}")]
        ) from None
    if len(data) < 16:
        raise ConfigError([("secret_file", f"{path} holds fewer than 16 bytes")])
    return data
