"""Find a dataset's four files (argument, $FASTNN_DATA_DIR, user cache, download) and load them."""

import functools
import os
import sys

from . import _download, _idx

ENV_VAR = "FASTNN_DATA_DIR"


def load(name, files, hashes, mirrors, path=None, verbose="auto"):
    """Return ((x_train, y_train), (x_test, y_test)) for the dataset these tables describe."""
    show = _show_progress(verbose)
    if path is not None:
        folder = _given_folder(path, files)
    else:
        folder = _find(name, files, hashes, mirrors, show)
    train = _idx.read_split(folder, files["x_train"], files["y_train"], hashes)
    test = _idx.read_split(folder, files["x_test"], files["y_test"], hashes)
    return train, test


def cache_dir(name):
    """Return the per-user cache folder for dataset `name` (XDG_CACHE_HOME or ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec says to ignore relative values
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fastnn", name)


def _given_folder(path, files):
    """Return the folder named by the `path` argument, which must hold all the files."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            "Expected `path` to be a str or os.PathLike naming the folder that holds the "
            f"dataset files. Received: path={path!r} of type {type(path).__name__}."
        )
    folder = os.path.expanduser(os.fsdecode(os.fspath(path)))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"Expected `path` to be an existing folder. Received: path={folder!r}, "
            "which is not a folder."
        )
    missing = _missing(folder, files)
    if missing:
        raise FileNotFoundError(
            f"Folder '{folder}' (given as `path`) lacks {', '.join(missing)}; expected all of "
            f"{', '.join(files.values())}. Pass path=None to search $FASTNN_DATA_DIR and the "
            "cache, then download."
        )
    return folder


def _find(name, files, hashes, mirrors, show):
    """Return $FASTNN_DATA_DIR/<name> or the cache if complete, else fill the cache from mirrors."""
    env = os.environ.get(ENV_VAR, "")
    searched = []
    if env:
        folder = os.path.join(os.path.expanduser(env), name)
        if not _missing(folder, files):
            return folder
        searched.append(f"'{folder}' (from ${ENV_VAR})")
    cache = cache_dir(name)
    searched.append(f"'{cache}' (user cache)")
    roles = {filename: role for role, filename in files.items()}
    try:
        for filename in _missing(cache, files):
            kind = _idx.kind_of(roles[filename])
            verify = functools.partial(_idx.read, kind=kind, digest=hashes[filename])
            _download.fetch(filename, mirrors, cache, verify, show)
    except _download.DownloadError as e:
        where = " and ".join(searched)
        raise _download.DownloadError(
            f"{name}: {where} lacked some files, so a download was tried. {e}"
        ) from None
    return cache


def _missing(folder, files):
    """Return the names in `files` that are not regular files in `folder`."""
    return [f for f in files.values() if not os.path.isfile(os.path.join(folder, f))]


def _show_progress(verbose):
    """Resolve `verbose` ("auto", True or False) to whether a download draws progress."""
    if verbose == "auto":
        return bool(sys.stderr is not None and sys.stderr.isatty())
    if isinstance(verbose, (bool, int)) and verbose in (0, 1):
        return bool(verbose)
    raise ValueError(
        f'Expected `verbose` to be "auto", True or False. Received: verbose={verbose!r}.'
    )
