"""Files shipped in the repository that chapters read, found from anywhere and fetched if missing.

A few chapters read files committed next to them (trained weights, the record of a long
run). The manifest ``llmtheory/data/shipped.json``, installed with the package, maps each
such file's repository-relative path to its SHA-256 and size in bytes;
:func:`shipped_path` returns a verified local copy, looking in this order:

1. the checkout of the repository: the folder holding this package when it is an editable
   install from a clone, else the first folder above the working directory that holds
   ``_config.yml`` and ``book/``;
2. beside the notebook: the file's path below its part's folder, under the working directory
   (``weights/icl_transformer.pt`` for ``book/part1_universal_approximation/weights/...``),
   where the course kit's editions of a chapter (``make assignments``) carry it;
3. the cache ``$LLMTHEORY_CACHE`` (default ``~/.cache/llmtheory``), holding earlier downloads;
4. a download into the cache from the commit the package was installed from (Colab installs
   it with ``pip install "llmtheory @ git+https://github.com/ORG/REPO@COMMIT"``), or from the
   base URL in ``$LLMTHEORY_REPOSITORY_RAW``.

Scripts that write a shipped file record its new digest with :func:`record_shipped`, so the
manifest is never edited by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from importlib import metadata
from importlib import resources as package_files
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .validation import check_choice

__all__ = [
    "CACHE_ENV",
    "MANIFEST_RELPATH",
    "RAW_ENV",
    "ChecksumMismatchError",
    "DownloadError",
    "ShippedFileNotFoundError",
    "cache_dir",
    "known_paths",
    "raw_base_from_direct_url",
    "raw_base_url",
    "record_shipped",
    "repository_root",
    "sha256_file",
    "shipped_path",
]

MANIFEST_RELPATH = "lib/llmtheory/data/shipped.json"
"""The manifest's path in the repository."""
RAW_ENV = "LLMTHEORY_REPOSITORY_RAW"
"""The environment variable holding a base URL under which shipped files are fetched."""
CACHE_ENV = "LLMTHEORY_CACHE"
"""The environment variable naming the folder downloads are kept in."""
TIMEOUT_S = 60.0
"""Seconds a download may wait for the server before it fails."""

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
_CHUNK = 1 << 16
_COMMIT = re.compile(r"[0-9a-fA-F]{7,64}")
_GITHUB_HOSTS = ("github.com", "www.github.com")


class ChecksumMismatchError(ValueError):
    """A file's size or SHA-256 differs from the manifest."""


class DownloadError(OSError):
    """A shipped file could not be fetched: no network, or the server did not serve it."""


class ShippedFileNotFoundError(FileNotFoundError):
    """A shipped file is neither in a checkout nor in the cache, and cannot be downloaded."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 hex digest of a file's bytes, read in chunks.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        64 lowercase hexadecimal digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest() -> dict[str, dict]:
    """The installed manifest: repository-relative path -> ``{"sha256": ..., "size": ...}``."""
    text = package_files.files("llmtheory").joinpath("data/shipped.json").read_text()
    return json.loads(text)


def known_paths() -> list[str]:
    """The repository-relative paths listed in the manifest, sorted.

    Returns
    -------
    list
        Paths such as ``"book/part1_universal_approximation/weights/icl_transformer.pt"``.
    """
    return sorted(_manifest())


def _is_checkout(folder: Path) -> bool:
    return (folder / "_config.yml").is_file() and (folder / "book").is_dir()


def repository_root() -> Path | None:
    """The checkout of the book's repository, or ``None`` where there is none.

    Returns
    -------
    pathlib.Path or None
        The clone this package is installed from in editable mode, else the first folder
        holding ``_config.yml`` and ``book/`` at or above the working directory.
    """
    if _is_checkout(_PACKAGE_ROOT):
        return _PACKAGE_ROOT
    here = Path.cwd().resolve()
    return next((folder for folder in (here, *here.parents) if _is_checkout(folder)), None)


def cache_dir() -> Path:
    """The folder downloads are kept in: ``$LLMTHEORY_CACHE``, else ``~/.cache/llmtheory``.

    Returns
    -------
    pathlib.Path
        The folder; it may not exist yet.
    """
    configured = os.environ.get(CACHE_ENV, "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "llmtheory"


def raw_base_from_direct_url(info: dict) -> str | None:
    """The raw-file base URL of a pip install from a GitHub repository at a commit.

    Parameters
    ----------
    info
        The parsed PEP 610 ``direct_url.json`` of the installed distribution.

    Returns
    -------
    str or None
        ``"https://raw.githubusercontent.com/ORG/REPO/COMMIT/"`` for a git install from
        ``https://github.com/ORG/REPO`` (with or without ``.git``) with a ``commit_id``;
        ``None`` for any other install (a local folder, an archive, another host).
    """
    if not isinstance(info, dict):
        raise TypeError(f"info must be a dict, got {type(info).__name__}")
    vcs, url = info.get("vcs_info"), info.get("url")
    if not isinstance(vcs, dict) or vcs.get("vcs") != "git" or not isinstance(url, str):
        return None
    commit = vcs.get("commit_id")
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http", "ssh", "git") or parts.hostname not in _GITHUB_HOSTS:
        return None
    segments = parts.path.strip("/").removesuffix(".git").split("/")
    if len(segments) != 2 or not all(segments):
        return None
    owner, repo = segments
    return f"https://raw.githubusercontent.com/{owner}/{repo}/{commit}/"


def _direct_url_info() -> dict | None:
    """The installed distribution's parsed ``direct_url.json``, or ``None``."""
    try:
        text = metadata.distribution("llmtheory").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        info = json.loads(text) if text else None
    except json.JSONDecodeError:
        return None
    return info if isinstance(info, dict) else None


def raw_base_url() -> str | None:
    """The base URL shipped files are downloaded from, or ``None`` where there is none.

    Returns
    -------
    str or None
        ``$LLMTHEORY_REPOSITORY_RAW`` when set, else the address derived by
        :func:`raw_base_from_direct_url` from how the package was installed; it ends in ``/``.
    """
    base = os.environ.get(RAW_ENV, "").strip()
    if not base:
        info = _direct_url_info()
        base = raw_base_from_direct_url(info) if info is not None else None
    if not base:
        return None
    return base if base.endswith("/") else f"{base}/"


def _mismatch(path: Path, entry: dict) -> str | None:
    """How ``path`` differs from its manifest ``entry``, or ``None`` when it matches."""
    size = path.stat().st_size
    if size != entry["size"]:
        return f"it has {size} bytes, the manifest {entry['size']}"
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        return f"its SHA-256 is {digest}, the manifest's {entry['sha256']}"
    return None


def _from_checkout(relpath: str, entry: dict) -> Path | None:
    """The verified file in the checkout, or ``None`` without a checkout holding it."""
    root = repository_root()
    if root is None or not (root / relpath).is_file():
        return None
    path = root / relpath
    problem = _mismatch(path, entry)
    if problem is not None:
        raise ChecksumMismatchError(
            f"{path} differs from the manifest {MANIFEST_RELPATH}: {problem}. Restore it with "
            f"`git checkout -- {relpath}`, or, if it was regenerated on purpose, record it with "
            "llmtheory.resources.record_shipped (the script that writes it does so)."
        )
    return path


def _beside_notebook(relpath: str, entry: dict) -> Path | None:
    """The verified copy beside the notebook (see the module's list), or ``None``."""
    parts = PurePosixPath(relpath).parts
    path = Path.cwd().joinpath(*parts[2:]) if len(parts) > 2 else None
    if path is None or not path.is_file():
        return None
    problem = _mismatch(path, entry)
    if problem is not None:
        raise ChecksumMismatchError(
            f"{path} differs from the manifest {MANIFEST_RELPATH}: {problem}. Copy it again from "
            "the edition of the chapter it came with, or delete it to fetch the right one."
        )
    return path


def _missing_message(relpath: str) -> str:
    return (
        f"{relpath} is not in a checkout of the book's repository nor in the cache "
        f"{cache_dir()}, and there is no address to download it from: the library was not "
        "installed from the repository with pip and git. Either clone the repository and run "
        "the chapter inside the clone (with the library installed by `pip install -e .`), or "
        'install the library with `pip install "llmtheory @ git+https://github.com/ORG/REPO'
        '@COMMIT"` (the repository address is in its _config.yml), or set '
        f"{RAW_ENV} to a base URL that serves {relpath}."
    )


def _network_error(url: str, exc: BaseException) -> DownloadError:
    if isinstance(exc, urllib.error.HTTPError):
        reason: object = f"HTTP {exc.code} {exc.reason}"
    else:
        reason = getattr(exc, "reason", None) or exc
    return DownloadError(
        f"could not fetch {url} ({reason}): the network is unavailable or the server does "
        "not serve this file. Connect to the internet and retry, or run from a clone of the "
        "repository."
    )


def _stream(url: str, out: BinaryIO, limit: int) -> None:
    """Copy ``url`` into ``out``, stopping once more than ``limit`` bytes have come."""
    size = 0
    try:
        response = urllib.request.urlopen(url, timeout=TIMEOUT_S)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _network_error(url, exc) from exc
    with response:
        while size <= limit:
            try:
                chunk = response.read(_CHUNK)
            except (OSError, http.client.HTTPException) as exc:
                raise _network_error(url, exc) from exc
            if not chunk:
                break
            size += len(chunk)
            out.write(chunk)


def _download(relpath: str, entry: dict, target: Path) -> Path:
    """Fetch ``relpath`` to ``target`` through a temporary file, verified before the rename."""
    base = raw_base_url()
    if base is None:
        raise ShippedFileNotFoundError(_missing_message(relpath))
    url = base + urllib.parse.quote(relpath)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    partial = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            _stream(url, out, limit=entry["size"])
        problem = _mismatch(partial, entry)
        if problem is not None:
            raise ChecksumMismatchError(
                f"the file downloaded from {url} differs from the manifest {MANIFEST_RELPATH}: "
                f"{problem}. It was deleted; the server holds another version of {relpath}."
            )
        os.replace(partial, target)  # atomic: the cache never holds a partial file
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def shipped_path(relpath: str, *, search_checkout: bool = True) -> Path:
    """A local, verified copy of a file shipped in the repository.

    Parameters
    ----------
    relpath
        The file's path relative to the repository root, as listed by :func:`known_paths`,
        e.g. ``"book/part4_next_token/results/multiplication_full_scale.json"``.
    search_checkout
        Look in the checkout (see :func:`repository_root`), then beside the notebook, first.
        ``False`` goes straight to the cache and the download, as in Colab.

    Returns
    -------
    pathlib.Path
        The file in the checkout, beside the notebook, or in the cache (downloaded there if
        needed), whose size and SHA-256 match the manifest.

    Raises
    ------
    ValueError
        If ``relpath`` is not in the manifest.
    ChecksumMismatchError
        If the checkout's file, the copy beside the notebook or the download differs from the
        manifest (a failed download leaves nothing in the cache).
    DownloadError
        If the download fails: no network, or the server does not serve the file.
    ShippedFileNotFoundError
        If the file is missing and there is no address to download it from.
    """
    entries = _manifest()
    relpath = check_choice(relpath, "relpath", sorted(entries))
    entry = entries[relpath]
    if search_checkout:
        found = _from_checkout(relpath, entry) or _beside_notebook(relpath, entry)
        if found is not None:
            return found
    cached = cache_dir() / entry["sha256"] / Path(relpath).name
    if cached.is_file():
        if _mismatch(cached, entry) is None:
            return cached
        cached.unlink()  # a damaged copy: fetch it again
    return _download(relpath, entry, cached)


def record_shipped(
    path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None
) -> str:
    """Record a file's SHA-256 and size in the checkout's manifest (add or update its entry).

    Scripts that write a shipped file call this, so the manifest is never edited by hand.

    Parameters
    ----------
    path
        The file, inside the checkout.
    root
        The checkout; default :func:`repository_root`. Its ``lib/llmtheory/data/shipped.json``
        is rewritten (an editable install reads it at once; reinstall otherwise).

    Returns
    -------
    str
        The file's repository-relative path, the key for :func:`shipped_path`.

    Raises
    ------
    FileNotFoundError
        If there is no checkout, or ``path`` does not exist.
    ValueError
        If ``path`` is not inside the checkout.
    """
    checkout = repository_root() if root is None else Path(root)
    if checkout is None:
        raise FileNotFoundError("record_shipped needs a checkout of the repository, found none")
    checkout, file = checkout.resolve(), Path(path).resolve()
    if not file.is_relative_to(checkout):
        raise ValueError(f"path must lie inside the repository {checkout}, got {file}")
    relpath = file.relative_to(checkout).as_posix()
    manifest = checkout / MANIFEST_RELPATH
    entries = json.loads(manifest.read_text()) if manifest.is_file() else {}
    entries[relpath] = {"sha256": sha256_file(file), "size": file.stat().st_size}
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(dict(sorted(entries.items())), indent=2) + "\n")
    return relpath
