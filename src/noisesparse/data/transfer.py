"""Moving files in: downloading and unpacking the datasets that do not ship with a package
(the builders of those datasets are downloaded.py).

`fetch` streams a URL to `<dest>.part`, resumes a partial file with an HTTP Range request
where the server allows it (and starts over where it does not), retries with exponential
backoff, checks the SHA-256 and only then renames the file to `dest`. A file therefore
carries its final name only when its checksum is right.

Mirrors and offline copies: if $NOISESPARSE_MIRROR is set to a directory, a file of the same
name in it is used first (copied, then checked); if it is a base URL (http://, https://,
file://), `<base>/<file name>` is tried first. The pinned URL and any configured mirrors
follow.

Archives are never unpacked to disk: `formats` reads the members it needs straight out of
the checked archive (CIFAR-10's pickles through an unpickler that can only build arrays), so
no member can land anywhere.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

from filelock import FileLock

from ..errors import ConfigError

RAW_DIR = "data/raw"  # downloads live here, relative to the project root (like data/processed)
MIRROR_ENV = "NOISESPARSE_MIRROR"
BACKOFF_S = 1.0  # first retry waits this long, then twice as long each time
CHUNK = 1 << 20
USER_AGENT = "noisesparse-data/0.1 (+urllib)"


class _Incomplete(Exception):
    """A transfer ended early or went wrong in a way a retry (or resume) may fix."""


class _Unavailable(Exception):
    """This source cannot serve the file (404, refused...): try the next source."""


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def raw_path(file_name: str) -> str:
    return str(Path(RAW_DIR) / file_name)


def _file_name(url: str) -> str:
    name = PurePosixPath(urllib.parse.urlparse(url).path).name
    if not name:
        raise ConfigError(f"cannot tell a file name from URL {url!r}")
    return name


def _sources(url: str, name: str, mirrors) -> list[str]:
    """Where to look, in order: $NOISESPARSE_MIRROR, the pinned URL, configured mirrors.

    A mirror entry that ends with "/" is a base URL (the file name is appended); otherwise it
    is the full URL of the file.
    """
    out = []
    env = os.environ.get(MIRROR_ENV, "").strip()
    if env:
        if "://" in env:
            out.append(env.rstrip("/") + "/" + urllib.parse.quote(name))
        else:
            out.append(str(Path(env).expanduser() / name))  # a local file (may not exist)
    out.append(url)
    for m in mirrors or ():
        out.append(m + urllib.parse.quote(name) if m.endswith("/") else m)
    return list(dict.fromkeys(out))  # keep order, drop repeats


def _lock(path: str) -> FileLock:
    """An exclusive lock on `path + ".lock"` so two processes never write the same .part."""
    return FileLock(path + ".lock")


def _mismatch(what: str, expected: str, actual: str) -> ConfigError:
    return ConfigError(f"checksum mismatch for {what}: expected sha256 {expected}, got "
                       f"{actual}. The partial file was deleted; if the source changed, "
                       "update the sha256 in config/datasets.yaml after checking the file.")


def _copy_local(src: Path, part: str) -> None:
    with open(src, "rb") as fin, open(part, "wb") as fout:
        shutil.copyfileobj(fin, fout, CHUNK)


def _content_range(value: str | None):
    """'bytes 100-199/200' -> (100, 200); total may be None ('*')."""
    try:
        unit, rest = value.split(" ", 1)
        span, total = rest.split("/", 1)
        start = int(span.split("-", 1)[0])
        return start, (None if total.strip() == "*" else int(total))
    except (AttributeError, ValueError):
        return None, None


def _transfer(url: str, part: str, progress: bool, timeout: float) -> None:
    """One attempt to complete `part` from `url`, resuming it when the server allows."""
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    headers = {"User-Agent": USER_AGENT}
    if offset and not url.startswith("file:"):
        headers["Range"] = f"bytes={offset}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:
            # Nothing left past `offset`: the part file is complete (the checksum decides)
            # or longer than the file; the caller checks it and starts over if it is wrong.
            return
        if e.code in (408, 425, 429) or e.code >= 500:
            raise _Incomplete(f"HTTP {e.code} from {url}") from e
        raise _Unavailable(f"HTTP {e.code} {e.reason} from {url}") from e
    except urllib.error.URLError as e:
        if isinstance(e.reason, (FileNotFoundError, PermissionError)):
            raise _Unavailable(f"{url}: {e.reason}") from e
        raise _Incomplete(f"{url}: {e.reason}") from e
    except (TimeoutError, OSError, http.client.HTTPException) as e:
        raise _Incomplete(f"{url}: {type(e).__name__}: {e}") from e

    with resp:
        status = getattr(resp, "status", None) or 200
        length = resp.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if status == 206:
            start, total = _content_range(resp.headers.get("Content-Range"))
            if start != offset:
                raise _Incomplete(f"{url}: server resumed at byte {start}, wanted {offset}")
            mode = "ab"
        else:  # 200 (or file://): the server sends the whole file, so start over
            offset, total, mode = 0, length, "wb"
        expected_body = length if length is not None else (
            None if total is None else total - offset)
        from tqdm.auto import tqdm
        bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                   desc=Path(part[:-len(".part")]).name, disable=not progress, leave=False)
        received = 0
        try:
            with open(part, mode) as f:
                while True:
                    try:
                        block = resp.read(CHUNK)
                    except (TimeoutError, ConnectionError, OSError) as e:
                        raise _Incomplete(f"{url}: connection lost after {offset + received} "
                                          f"bytes ({e})") from e
                    except Exception as e:  # http.client.IncompleteRead and friends
                        raise _Incomplete(f"{url}: {type(e).__name__}: {e}") from e
                    if not block:
                        break
                    f.write(block)
                    received += len(block)
                    bar.update(len(block))
        finally:
            bar.close()
        if expected_body is not None and received < expected_body:
            raise _Incomplete(f"{url}: transfer ended early: {offset + received} of "
                              f"{offset + expected_body} bytes")


def fetch(url: str, dest: str | os.PathLike, sha256: str, mirrors=(), retries: int = 3,
          progress: bool = True, timeout: float = 60.0) -> str:
    """Download `url` to `dest` (checked against `sha256`) unless it is already there.

    Tries $NOISESPARSE_MIRROR, then `url`, then `mirrors`, each up to `retries` times with
    exponential backoff, resuming `<dest>.part` between attempts. A checksum mismatch
    deletes the partial file; ConfigError (naming the expected and actual hash) is raised
    when no source gives the right file. Returns `dest` as a string.
    """
    dest = str(dest)
    sha256 = (sha256 or "").lower()
    if len(sha256) != 64:
        raise ConfigError(f"fetch {url}: a sha256 (64 hex digits) is required, got {sha256!r}")
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    part = dest + ".part"
    name = Path(dest).name
    with _lock(dest):
        if os.path.exists(dest):
            actual = sha256_file(dest)
            if actual == sha256:
                return dest
            os.remove(dest)  # a stale or corrupt copy: fetch it again
        errors: list[str] = []
        mismatch: ConfigError | None = None
        for src in _sources(url, name, mirrors):
            if "://" not in src:  # a local mirror directory
                if not os.path.isfile(src):
                    continue
                _copy_local(Path(src), part)
                actual = sha256_file(part)
                if actual == sha256:
                    os.replace(part, dest)
                    return dest
                os.remove(part)
                mismatch = _mismatch(f"{name} from {src}", sha256, actual)
                continue
            attempt, restarted = 0, False
            while attempt < max(1, retries):
                if attempt:
                    time.sleep(BACKOFF_S * 2 ** (attempt - 1))
                resumed = os.path.exists(part) and os.path.getsize(part) > 0
                try:
                    _transfer(src, part, progress, timeout)
                except _Incomplete as e:
                    errors.append(f"attempt {attempt + 1}: {e}")
                    attempt += 1
                    continue
                except _Unavailable as e:
                    errors.append(str(e))
                    break
                actual = sha256_file(part) if os.path.exists(part) else hashlib.sha256().hexdigest()
                if actual == sha256:
                    os.replace(part, dest)  # atomic: the final name only for a checked file
                    return dest
                if os.path.exists(part):
                    os.remove(part)
                if resumed and not restarted:
                    # The kept partial file may be stale (an older version of the file, or
                    # longer than it): start over once from byte 0 before giving up.
                    restarted = True
                    continue
                mismatch = _mismatch(f"{name} from {src}", sha256, actual)
                break  # the same source would send the same wrong bytes
        if mismatch is not None and not errors:
            raise mismatch
        left = (f" A partial download was kept at {part} and resumes next time."
                if os.path.exists(part) else "")
        msgs = ([str(mismatch)] if mismatch is not None else []) + errors[-6:]
        raise ConfigError(
            f"could not download {name} (sha256 {sha256}): "
            + "; ".join(msgs or ["no source could be tried"])
            + f".{left} Offline, put the file in a directory and set {MIRROR_ENV} to it, "
            f"or place it at {dest} yourself.")
