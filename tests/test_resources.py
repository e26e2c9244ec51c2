"""Tests for llmtheory.resources: the manifest is right, files are found and fetched, offline."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from llmtheory import resources
from llmtheory.icl import ICL_WEIGHTS
from llmtheory.resources import (
    ChecksumMismatchError,
    DownloadError,
    ShippedFileNotFoundError,
    known_paths,
    raw_base_from_direct_url,
    record_shipped,
    sha256_file,
    shipped_path,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = "book/part4_next_token/results/multiplication_full_scale.json"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
RAW = f"https://raw.githubusercontent.com/org/repo/{COMMIT}/"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder, and no download address unless a test sets one."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(resources.CACHE_ENV, str(folder))
    monkeypatch.delenv(resources.RAW_ENV, raising=False)
    monkeypatch.setattr(resources, "_direct_url_info", lambda: None)
    return folder


@pytest.fixture
def server(tmp_path, monkeypatch, cache):
    """A local HTTP server holding a copy of the shipped files; yields (folder, requests)."""
    served = tmp_path / "served"
    for relpath in known_paths():
        (served / relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / relpath, served / relpath)
    requests: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the name http.server calls)
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):  # keep the test output quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv(resources.RAW_ENV, f"http://127.0.0.1:{httpd.server_address[1]}")
    yield served, requests
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_manifest_matches_the_files_in_the_repository():
    manifest = json.loads((ROOT / resources.MANIFEST_RELPATH).read_text())
    assert sorted(manifest) == known_paths()
    assert {ICL_WEIGHTS, RESULTS} <= set(manifest)
    for relpath, entry in manifest.items():
        path = ROOT / relpath
        assert entry == {"sha256": sha256_file(path), "size": path.stat().st_size}


def test_every_weights_results_and_benchmark_record_is_in_the_manifest():
    shipped = [
        *ROOT.glob("book/*/weights/*"),
        *ROOT.glob("book/*/results/*"),
        *ROOT.glob("book/back/benchmarks/*.json"),
        *ROOT.glob("book/back/mutants/*.json"),
    ]
    assert sorted(p.relative_to(ROOT).as_posix() for p in shipped) == known_paths()


def test_finds_the_checkout_from_another_working_directory(tmp_path, monkeypatch, cache):
    monkeypatch.chdir(tmp_path)
    assert shipped_path(ICL_WEIGHTS) == ROOT / ICL_WEIGHTS
    assert shipped_path(RESULTS) == ROOT / RESULTS
    assert _files(cache) == []


def test_walks_up_from_the_working_directory_without_an_editable_install(tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "_PACKAGE_ROOT", tmp_path)
    monkeypatch.chdir(ROOT / "book/part4_next_token")
    assert resources.repository_root() == ROOT
    assert shipped_path(RESULTS) == ROOT / RESULTS
    monkeypatch.chdir(tmp_path)
    assert resources.repository_root() is None


def test_finds_a_copy_beside_the_notebook_without_a_checkout(tmp_path, monkeypatch, cache):
    """A chapter's course edition carries weights/... beside it: found offline, and verified."""
    monkeypatch.setattr(resources, "repository_root", lambda: None)
    beside = tmp_path / "weights" / Path(ICL_WEIGHTS).name
    beside.parent.mkdir()
    shutil.copyfile(ROOT / ICL_WEIGHTS, beside)
    monkeypatch.chdir(tmp_path)
    assert shipped_path(ICL_WEIGHTS) == beside
    assert _files(cache) == []
    with pytest.raises(ShippedFileNotFoundError):
        shipped_path(RESULTS)  # not beside: no checkout, nothing cached, no address
    beside.write_bytes(b"damaged")
    with pytest.raises(ChecksumMismatchError, match="Copy it again"):
        shipped_path(ICL_WEIGHTS)


def test_a_changed_file_in_the_checkout_is_an_error(tmp_path, monkeypatch, cache):
    (tmp_path / RESULTS).parent.mkdir(parents=True)
    (tmp_path / RESULTS).write_bytes((ROOT / RESULTS).read_bytes().replace(b"0", b"1", 1))
    monkeypatch.setattr(resources, "repository_root", lambda: tmp_path)
    with pytest.raises(ChecksumMismatchError, match="differs from the manifest"):
        shipped_path(RESULTS)


def test_downloads_into_the_cache_then_reads_the_cache(server, cache):
    _, requests = server
    path = shipped_path(ICL_WEIGHTS, search_checkout=False)
    assert path.is_relative_to(cache) and path.name == "icl_transformer.pt"
    assert path.read_bytes() == (ROOT / ICL_WEIGHTS).read_bytes()
    assert requests == [f"/{ICL_WEIGHTS}"]
    assert _files(cache) == [path]  # the temporary file was renamed, nothing else is left
    assert shipped_path(ICL_WEIGHTS, search_checkout=False) == path
    assert len(requests) == 1  # the second call is a cache hit


def test_a_damaged_cached_copy_is_fetched_again(server, cache):
    _, requests = server
    path = shipped_path(RESULTS, search_checkout=False)
    path.write_text("{}")
    again = shipped_path(RESULTS, search_checkout=False)
    assert again == path and again.read_bytes() == (ROOT / RESULTS).read_bytes()
    assert len(requests) == 2


@pytest.mark.parametrize("damage", ["flip", "append", "truncate"])
def test_a_corrupted_download_is_an_error_and_leaves_nothing(server, cache, damage):
    served, _ = server
    data = (ROOT / ICL_WEIGHTS).read_bytes()
    changed = {
        "flip": data[:100] + bytes([data[100] ^ 1]) + data[101:],
        "append": data + b"extra",
        "truncate": data[:-1],
    }[damage]
    (served / ICL_WEIGHTS).write_bytes(changed)
    with pytest.raises(ChecksumMismatchError, match="downloaded from http://127.0.0.1"):
        shipped_path(ICL_WEIGHTS, search_checkout=False)
    assert _files(cache) == []


def test_a_missing_file_on_the_server_is_a_download_error(server, cache):
    served, _ = server
    (served / RESULTS).unlink()
    with pytest.raises(DownloadError, match=f"could not fetch http://127.0.0.1:.*/{RESULTS}"):
        shipped_path(RESULTS, search_checkout=False)
    assert _files(cache) == []


def test_no_network_is_a_clear_error(cache, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(resources.RAW_ENV, f"http://127.0.0.1:{port}/")
    with pytest.raises(DownloadError, match="network is unavailable") as error:
        shipped_path(RESULTS, search_checkout=False)
    assert f"http://127.0.0.1:{port}/{RESULTS}" in str(error.value)
    assert isinstance(error.value, OSError)
    assert _files(cache) == []


def test_without_a_checkout_or_an_address_the_error_says_how_to_get_the_file(cache):
    with pytest.raises(ShippedFileNotFoundError, match="clone the repository") as error:
        shipped_path(RESULTS, search_checkout=False)
    assert RESULTS in str(error.value) and "git+https://" in str(error.value)


@pytest.mark.parametrize(
    ("relpath", "error", "message"),
    [
        ("book/missing.pt", ValueError, "relpath must be one of .*icl_transformer.pt"),
        (Path(RESULTS), TypeError, "relpath must be a str"),
    ],
)
def test_rejects_paths_not_in_the_manifest(relpath, error, message):
    with pytest.raises(error, match=message):
        shipped_path(relpath)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/org/repo", RAW),
        ("https://github.com/org/repo.git", RAW),
        ("ssh://git@github.com/org/repo.git", RAW),
        ("https://gitlab.com/org/repo.git", None),
        ("https://github.com/org", None),
        ("file:///home/me/repo", None),
    ],
)
def test_raw_base_from_a_git_install(url, expected):
    info = {"url": url, "vcs_info": {"vcs": "git", "commit_id": COMMIT, "requested_revision": "x"}}
    assert raw_base_from_direct_url(info) == expected


@pytest.mark.parametrize(
    "info",
    [
        {"url": "file:///work/main", "dir_info": {"editable": True}},
        {"url": "https://github.com/org/repo/archive/main.zip", "archive_info": {}},
        {"url": "https://github.com/org/repo", "vcs_info": {"vcs": "hg", "commit_id": COMMIT}},
        {"url": "https://github.com/org/repo", "vcs_info": {"vcs": "git"}},
    ],
)
def test_raw_base_is_none_for_other_installs(info):
    assert raw_base_from_direct_url(info) is None


def test_the_download_address_comes_from_the_environment_then_the_install(monkeypatch):
    monkeypatch.delenv(resources.RAW_ENV, raising=False)
    info = {"url": "https://github.com/org/repo", "vcs_info": {"vcs": "git", "commit_id": COMMIT}}
    monkeypatch.setattr(resources, "_direct_url_info", lambda: info)
    assert resources.raw_base_url() == RAW
    monkeypatch.setenv(resources.RAW_ENV, "http://mirror.example/book")
    assert resources.raw_base_url() == "http://mirror.example/book/"


def test_record_shipped_adds_and_updates_an_entry(tmp_path):
    weights = tmp_path / "book/part9/weights/w.pt"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"first")
    assert record_shipped(weights, root=tmp_path) == "book/part9/weights/w.pt"
    weights.write_bytes(b"second!")
    record_shipped(weights, root=tmp_path)
    manifest = json.loads((tmp_path / resources.MANIFEST_RELPATH).read_text())
    assert manifest == {"book/part9/weights/w.pt": {"sha256": sha256_file(weights), "size": 7}}
    with pytest.raises(ValueError, match="path must lie inside the repository"):
        record_shipped(ROOT / RESULTS, root=tmp_path)
