"""Where results go: inputs expanded from folders, one output per input, no silent overwrites,
and atomic writes (a hidden temporary file beside the target, renamed when complete), so that
nobody ever sees a half-written file under the output's name and an input is never touched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from rt_style.errors import UserError


def expand_inputs(paths, suffixes: tuple[str, ...], what: str) -> tuple[list[Path], bool]:
    """Files as given, folders as their files with one of `suffixes` (sorted, not recursive).
    Returns the files and whether a folder was among the inputs (then outputs go to a folder)."""
    files, from_folder = [], False
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir()
                           if f.is_file() and f.suffix.lower() in suffixes
                           and not f.name.startswith("."))
            if not found:
                raise UserError(f"no {what} files in folder {p} "
                                f"(looked for {', '.join(suffixes)})")
            files += found
            from_folder = True
        elif p.is_file():
            files.append(p)
        else:
            raise UserError(f"no such file: {p}")
    if not files:
        raise UserError(f"no input {what} given")
    return files, from_folder


def plan_outputs(inputs: list[Path], out: str, name_for: Callable[[Path], str], force: bool,
                 to_folder: bool = False) -> list[tuple[Path, Path]]:
    """(input, output) pairs. OUT is a folder when there are several inputs, when the inputs
    came from a folder, when it already is one, or when it ends with '/'; otherwise a file."""
    target = Path(out)
    as_folder = to_folder or len(inputs) > 1 or target.is_dir() or out.endswith(("/", os.sep))
    if as_folder and target.exists() and not target.is_dir():
        raise UserError(f"{target} is a file, but {len(inputs)} inputs need a folder for -o")
    pairs = [(i, target / name_for(i) if as_folder else target) for i in inputs]
    seen = {}
    sources = {i.resolve() for i in inputs}
    for i, o in pairs:
        if o.resolve() in sources:
            raise UserError(f"output {o} would overwrite an input: choose another -o")
        if o.resolve() in seen:
            raise UserError(f"{seen[o.resolve()]} and {i} would both be written to {o}")
        seen[o.resolve()] = i
        if o.exists() and not force:
            raise UserError(f"{o} exists: pass --force to overwrite it")
    return pairs


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder (same suffix, so formats are still guessed
    from it); rename it to `path` if the block completes, delete it if the block raises."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.part{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
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
