"""Fetch one dataset file from a list of mirrors into a folder: streamed, verified, atomic."""

import http.client
import os
import sys
import tempfile
import urllib.request

TIMEOUT_S = 30.0
_CHUNK = 1 << 16


class DownloadError(OSError):
    """No mirror delivered a copy of a file that passed verification."""


def fetch(filename, mirrors, folder, verify, verbose=False):
    """Download `filename` from the first mirror whose copy passes `verify(path)`; return the path."""
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, filename)
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        try:
            _fetch_verified(url, folder, target, verify, verbose)
            return target
        except (OSError, http.client.HTTPException, ValueError) as e:
            failures.append(f"  {url}: {type(e).__name__}: {e}")
            if verbose:
                print(f"Download from {url} failed: {e}", file=sys.stderr)
    tried = "\n".join(failures) or "  (the mirror list is empty)"
    raise DownloadError(
        f"Could not download '{filename}' into '{folder}': expected a verified copy from "
        f"one of {len(mirrors)} mirror(s), received none. Partial downloads were deleted. "
        f"Tried:\n{tried}"
    )


def _fetch_verified(url, folder, target, verify, verbose):
    """Stream `url` to a temporary file beside `target`, verify it, then rename it into place."""
    prefix = "." + os.path.basename(target) + "."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(url, out, verbose)
        verify(tmp)
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


def _stream(url, out, verbose):
    """Copy the body of `url` into `out`, failing if it is shorter than its Content-Length."""
    if verbose:
        print(f"Downloading {url}", file=sys.stderr)
    received, total = 0, None
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
                if verbose:
                    _progress(received, total)
    finally:
        if verbose and received:
            print(file=sys.stderr)  # end the progress line, even on failure
    if total is not None and received != total:
        raise ValueError(f"truncated transfer: expected {total} bytes, received {received}")


def _progress(received, total):
    """Redraw one progress line on stderr."""
    done = f"{received / 1e6:.1f} MB"
    if total:
        done += f" / {total / 1e6:.1f} MB ({100 * received // total}%)"
    sys.stderr.write("\r  " + done)
    sys.stderr.flush()


def _remove(path):
    """Delete `path` if it exists."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
