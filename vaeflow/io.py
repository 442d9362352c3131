"""Atomic file writes: a reader never sees a half-written file, a crash never leaves one."""

from __future__ import annotations

import contextlib
import errno
import json
import os
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
        if overwrite:
            os.replace(tmp_path, path)
        else:
            publish_exclusive(tmp_path, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


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


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0o022)  # reading the umask means setting it; restored at once
        os.umask(umask)
        return 0o666 & ~umask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(f"{path} exists; pass overwrite=True to replace it")
