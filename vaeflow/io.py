"""Files and names on disk: atomic writes (a reader never sees a half-written file, a crash never
leaves one) and the names a user may give to the files and folders vaeflow makes.

The atomic writes are durable too: the data is fsync'ed before the rename that publishes it and
the directory after, so after a power loss a path holds its old content or its new one, whole.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "", *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, else delete it.

    The temporary file sits in the same directory, so the final `os.replace` is atomic.
    With ``overwrite=False`` the file is published only if nothing is at `path` at that
    moment (`publish_exclusive`); otherwise FileExistsError, and the temporary file is deleted.
    `suffix` keeps extensions that writers insist on (``np.savez`` appends ``.npz``).
    The file ends with the mode a plain ``open(path, "w")`` would give it (an existing file's
    mode, else 0o666 less the umask), not the private 0o600 of ``mkstemp``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        if not overwrite and path.exists():  # fail before the caller writes gigabytes
            raise _exists(path)
        yield tmp_path
        os.chmod(tmp_path, _mode_for(path))
        fsync(tmp_path)  # the data on disk before the name points at it
        if overwrite:
            os.replace(tmp_path, path)
        else:
            publish_exclusive(tmp_path, path)
        fsync(path.parent)  # and the new name itself
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary directory beside `path`; on success it takes `path`'s place
    (replacing a directory there), else it is deleted.

    Readers see the old directory or the complete new one, never a partial one. POSIX cannot
    rename a directory onto a non-empty one, so the old one is first renamed aside to
    ``.<name>.old``: a crash between the two renames leaves it there, and the next swap of
    `path` deletes it. The directory ends with the mode of the one it replaces, else the one a
    plain ``mkdir`` gives (0o777 less the umask), not ``mkdtemp``'s private 0o700.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    old = path.with_name(f".{path.name}.old")
    try:
        yield staging
        os.chmod(staging, _mode_for(path, 0o777))
        fsync_tree(staging)
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            os.replace(path, old)
        os.replace(staging, path)
        fsync(path.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def fsync(path: str | os.PathLike) -> None:
    """Flush the file or directory `path` to the disk (``os.fsync``): what it holds now, or for
    a directory the names in it, survives a power loss, not only a killed process."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: str | os.PathLike) -> None:
    """`fsync` every file and directory under `root`, the directories after their contents."""
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            fsync(os.path.join(folder, name))
        fsync(folder)


def publish_exclusive(tmp: Path, path: Path) -> None:
    """Give the complete file `tmp` the name `path` only if no file has it; `tmp` is consumed.

    A hard link is created atomically and fails if the name exists, so two concurrent
    writers can never replace each other's file (the check and the creation are one step).

    Raises:
        FileExistsError: naming `path` when a file is already there.
    """
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _exists(path) from None
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        # A file system without hard links: claim the name first (O_EXCL is atomic), then
        # replace the empty placeholder; a reader may see it empty for that instant, never torn.
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            raise _exists(path) from None
        os.replace(tmp, path)
        return
    tmp.unlink()


def _mode_for(path: Path, default: int = 0o666) -> int:
    """`path`'s mode if it exists, else what a plain open (0o666) or mkdir (0o777) would give."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0o022)  # reading the umask means setting it; restored at once
        os.umask(umask)
        return default & ~umask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` says the disk (or the user's quota) is full: an `OSError` with ENOSPC or
    EDQUOT, or a TensorFlow error whose message says so (TF's file system reports it that way).
    """
    if isinstance(error, OSError):
        return error.errno in _DISK_FULL
    return "No space left on device" in str(error) or "Disk quota exceeded" in str(error)


def describe_os_error(error: BaseException, where: str | os.PathLike) -> str:
    """One line for an I/O failure that names the place: ``disk full (<path>): ...`` when the
    disk is full, else the error's own text, followed by `where` if that text names no file.

    The path is the error's own file name when it has one, else `where`.
    """
    path = getattr(error, "filename", None) or where
    if is_disk_full(error):
        return f"disk full ({path}): free some space, then try again"
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text if getattr(error, "filename", None) else f"{text} ({path})"


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(f"{path} exists; pass overwrite=True to replace it")


# One path component that cannot leave its folder: no "/", no leading ".", and no ".." (below).
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_name(name: str, what: str) -> str:
    """Return `name` if it is a safe file or folder name, else raise ValueError naming `what`.

    A safe name is 1–64 letters, digits, ``.``, ``_`` and ``-``, starting with a letter or
    digit, without ``..``: one path component that stays inside the folder it is joined to.

    >>> check_name("run-1.b", "run name")
    'run-1.b'
    """
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(
            f"{what} {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, and no '..'")
    return name


def check_format(header: Any, format: str, version: int, source: str,
                 error: type[ValueError] = ValueError) -> dict:
    """`header` if it is a dict whose ``"format"`` is `format` and ``"version"`` is `version`.

    The header of every file vaeflow writes (a dataset's meta, a model's or a feature
    network's config.json) starts with these two keys.

    Raises:
        `error` (ValueError or a subclass) naming `source`, for another format or version.
    """
    got = header.get("format") if isinstance(header, dict) else None
    if got != format:
        raise error(f"{source}: format must be {format!r}, got {got!r}")
    if header.get("version") != version:
        raise error(f"{source}: version {header.get('version')!r} is not supported (want {version})")
    return header
