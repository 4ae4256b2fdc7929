"""Atomic writes: a hidden temporary file beside the target, renamed over it when complete.

Nobody ever sees a half-written file under the target's name, and a failure leaves the old file
(or none) in place. Temporaries carry the writing process's id, so that a later run can tell the
leftovers of a killed one (SIGKILL, a power cut) from those of a run still going, and remove
them. One helper for every writer: images, videos, recordings, models, engines, checkpoints.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from rt_style.errors import UserError


def temp_path(path: Path, tag: str = "part") -> Path:
    """.NAME.PID-XXXXXXXX.TAG.SUFFIX beside `path` (the suffix kept: formats follow it)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.{tag}"
                          f"{path.suffix}")


def remove_stale(folder: Path, pattern: str) -> list[Path]:
    """Delete the files in `folder` whose names match `pattern` (a regular expression with a
    `pid` group) and whose process is gone; returns them."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for f in entries:
        m = re.fullmatch(pattern, f.name)
        if m and not _alive(int(m["pid"])):
            with contextlib.suppress(OSError):
                f.unlink()
                removed.append(f)
    return removed


def remove_stale_temps(path: Path, tag: str = "part") -> list[Path]:
    """Delete the temporaries of `path` (temp_path) that killed runs left behind."""
    path = Path(path)
    return remove_stale(path.parent, rf"\.{re.escape(path.stem)}\.(?P<pid>\d+)-[0-9a-f]{{8}}"
                                     rf"\.{re.escape(tag)}{re.escape(path.suffix)}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":  # no harmless probe (os.kill ends the process there): keep the file
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process
        return True
    return True


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder (same suffix, so formats are still guessed
    from it); rename it to `path` if the block completes, delete it if the block raises.
    Temporaries of this target left by killed runs are removed first."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        # O_EXCL: never clobber another run's file; mode 0o666 lets the umask decide, as for
        # any ordinary new file.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"cannot write {path}: a parent of it is a file, not a folder") from None
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}") from None
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A binary file open for writing whose contents replace `path` when the block completes
    (atomic_output), on disk before the rename makes them visible."""
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def write_bytes(path, data: bytes) -> None:
    with atomic_file(path) as f:
        f.write(data)


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode())
