"""fetch(): resume, retry, checksum, mirrors.

All against a local HTTP server on 127.0.0.1 (tests/_local_http.py); no network."""

import hashlib
import os

import pytest

from _local_http import LocalServer
from noisesparse.data import transfer
from noisesparse.errors import ConfigError

BODY = os.urandom(300_000)
SHA = hashlib.sha256(BODY).hexdigest()


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    monkeypatch.setattr(transfer, "BACKOFF_S", 0.0)
    monkeypatch.delenv(transfer.MIRROR_ENV, raising=False)


@pytest.fixture
def server():
    with LocalServer() as s:
        s.files["/f.bin"] = BODY
        yield s


def test_fetch_downloads_checks_and_renames(server, tmp_path):
    dest = tmp_path / "raw" / "f.bin"
    assert transfer.fetch(server.url("f.bin"), dest, SHA, progress=False) == str(dest)
    assert dest.read_bytes() == BODY
    assert not (tmp_path / "raw" / "f.bin.part").exists()
    n = len(server.log)
    transfer.fetch(server.url("f.bin"), dest, SHA, progress=False)  # already there and valid
    assert len(server.log) == n


def test_bad_checksum_raises_and_leaves_nothing(server, tmp_path):
    dest = tmp_path / "f.bin"
    wrong = "0" * 64
    with pytest.raises(ConfigError) as e:
        transfer.fetch(server.url("f.bin"), dest, wrong, progress=False)
    assert wrong in str(e.value) and SHA in str(e.value)
    assert not dest.exists() and not (tmp_path / "f.bin.part").exists()
    assert len(server.log) == 1  # a mismatch is not retried against the same source


def test_truncated_transfer_is_resumed_with_range(server, tmp_path):
    server.truncate["/f.bin"] = [100_000]
    dest = tmp_path / "f.bin"
    transfer.fetch(server.url("f.bin"), dest, SHA, progress=False)
    assert dest.read_bytes() == BODY
    assert [(r["status"], r["range"]) for r in server.log] == [(200, None),
                                                               (206, "bytes=100000-")]
    assert server.log[1]["sent"] == len(BODY) - 100_000


def test_truncated_transfer_without_range_support_restarts(server, tmp_path):
    server.range_support = False
    server.truncate["/f.bin"] = [50_000, 10]
    dest = tmp_path / "f.bin"
    transfer.fetch(server.url("f.bin"), dest, SHA, progress=False, retries=3)
    assert dest.read_bytes() == BODY
    assert [r["status"] for r in server.log] == [200, 200, 200]


def test_always_truncated_gives_clear_error_and_no_final_file(server, tmp_path):
    server.range_support = False
    server.truncate["/f.bin"] = [1000, 1000]
    dest = tmp_path / "f.bin"
    with pytest.raises(ConfigError, match="ended early"):
        transfer.fetch(server.url("f.bin"), dest, SHA, progress=False, retries=2)
    assert not dest.exists()
    assert len(server.log) == 2


def test_existing_partial_file_resumes(server, tmp_path):
    dest = tmp_path / "f.bin"
    (tmp_path / "f.bin.part").write_bytes(BODY[:123_456])
    transfer.fetch(server.url("f.bin"), dest, SHA, progress=False)
    assert dest.read_bytes() == BODY
    assert len(server.log) == 1
    assert server.log[0]["range"] == "bytes=123456-" and server.log[0]["status"] == 206
    assert server.log[0]["sent"] == len(BODY) - 123_456


def test_stale_partial_file_is_restarted_once(server, tmp_path):
    dest = tmp_path / "f.bin"
    (tmp_path / "f.bin.part").write_bytes(b"x" * 1000)  # not a prefix of the real file
    transfer.fetch(server.url("f.bin"), dest, SHA, progress=False)
    assert dest.read_bytes() == BODY
    assert [r["status"] for r in server.log] == [206, 200]


def test_complete_partial_file_is_renamed_after_416(server, tmp_path):
    dest = tmp_path / "f.bin"
    (tmp_path / "f.bin.part").write_bytes(BODY)
    transfer.fetch(server.url("f.bin"), dest, SHA, progress=False)
    assert dest.read_bytes() == BODY and [r["status"] for r in server.log] == [416]


def test_mirror_directory_is_used_first(server, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "f.bin").write_bytes(BODY)
    monkeypatch.setenv(transfer.MIRROR_ENV, str(mirror))
    dest = tmp_path / "raw" / "f.bin"
    transfer.fetch(server.url("f.bin"), dest, SHA, progress=False)
    assert dest.read_bytes() == BODY and server.log == []


def test_bad_mirror_copy_falls_back_to_the_url(server, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "f.bin").write_bytes(b"corrupt")
    monkeypatch.setenv(transfer.MIRROR_ENV, str(mirror))
    transfer.fetch(server.url("f.bin"), tmp_path / "f.bin", SHA, progress=False)
    assert (tmp_path / "f.bin").read_bytes() == BODY and len(server.log) == 1


def test_mirror_base_url_and_configured_mirrors(server, tmp_path, monkeypatch):
    server.files["/m/f.bin"] = BODY
    monkeypatch.setenv(transfer.MIRROR_ENV, server.url("m"))
    transfer.fetch(server.url("missing/f.bin"), tmp_path / "a" / "f.bin", SHA, progress=False)
    assert [r["path"] for r in server.log] == ["/m/f.bin"]
    monkeypatch.delenv(transfer.MIRROR_ENV)
    server.log.clear()
    transfer.fetch(server.url("missing/f.bin"), tmp_path / "b" / "f.bin", SHA,
                   mirrors=[server.url("m") + "/"], progress=False)
    assert [(r["path"], r["status"]) for r in server.log] == [("/missing/f.bin", 404),
                                                              ("/m/f.bin", 200)]


def test_unreachable_source_gives_clear_error(tmp_path):
    with LocalServer() as s:
        url = s.url("f.bin")
    with pytest.raises(ConfigError, match="NOISESPARSE_MIRROR"):
        transfer.fetch(url, tmp_path / "f.bin", SHA, progress=False, retries=2, timeout=2)
    assert not (tmp_path / "f.bin").exists()
