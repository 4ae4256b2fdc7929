"""Where results go: inputs expanded from folders, one output per input, no silent overwrites,
and never an input touched. Writing itself is atomic (rt_style.atomic).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
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
    slash = out.endswith(("/", os.sep))
    as_folder = to_folder or len(inputs) > 1 or target.is_dir() or slash
    if as_folder and target.exists() and not target.is_dir():
        raise UserError(f"{target} is a file, but {len(inputs)} inputs need a folder for -o")
    if as_folder and not target.exists() and not slash and looks_like_file(target):
        raise UserError(f"{len(inputs)} inputs need a folder for -o, but {out} looks like a "
                        f"file name: give a folder (e.g. -o {target.stem}/)")
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


def looks_like_file(path: Path) -> bool:
    """A name ending in a suffix we read or write (out.png, clip.mp4): not meant as a folder."""
    from rt_style.imageio import IMAGE_SUFFIXES
    from rt_style.videoio import CONTAINERS, VIDEO_SUFFIXES

    known = set(IMAGE_SUFFIXES) | set(VIDEO_SUFFIXES) | set(CONTAINERS) | {".onnx"}
    return path.suffix.lower() in known


def same_file(a, b) -> bool:
    """Whether two paths name one file (links and relative names included)."""
    a, b = Path(a), Path(b)
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def refuse_overwriting(inputs, outputs: dict) -> None:
    """Refuse any output (option → path) that names an input, or the same file as another."""
    seen = {}
    for option, path in outputs.items():
        if not path:
            continue
        for i in inputs:
            if i is not None and same_file(path, i):
                raise UserError(f"{option} {path} would overwrite the input {i}: choose another "
                                "file")
        for other, p in seen.items():
            if same_file(path, p):
                raise UserError(f"{other} and {option} both name {path}: choose two files")
        seen[option] = path


def check_writable(path: Path, what: str = "") -> None:
    """Fail now, not after minutes of work, when `path` cannot be created: a parent that is a
    file, or a folder that does not take new files. Leaves nothing behind."""
    path = Path(path)
    name = f"{what} {path}" if what else str(path)
    if path.is_dir():
        raise UserError(f"cannot write {name}: it is a folder")
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"cannot write {name}: {existing} is a file, not a folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".rtstyle-write-test.", dir=existing)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise UserError(f"cannot write {name}: {e.strerror} ({existing})") from None
