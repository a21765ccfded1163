"""Downloaded datasets (CIFAR-10, MNIST, WikiText-103, ConvMixer latents) and image_folder.

The downloads come from a local HTTP server (tests/_local_http.py) serving tiny files in the
real formats, written here; the catalog entries point at it through a copy of
config/datasets.yaml in a temporary project root."""

import gzip
import hashlib
import io
import os
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from _local_http import LocalServer
from noisesparse.data import catalog, convmixer, formats, transfer
from noisesparse.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = Path("/work/shared/data/convmixer_imagenet32_state_dict.pt")
WEIGHTS_SHA = "878ac9a285f563f2c7ce9083b9bb69c5bd401327fcf23d82bdfd5e894a40b49f"
sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731


# ------------------------------------------------------------------ files in real formats


def cifar_archive(rng, n_per_batch=3, n_test=4):
    """A tiny cifar-10-python.tar.gz: cifar-10-batches-py/{data_batch_1..5, test_batch,
    batches.meta}, pickled like the original (protocol 2, numpy.core names, bytes keys)."""
    batches, buf = {}, io.BytesIO()
    label = 0
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        def add(name, obj):
            raw = pickle.dumps(obj, protocol=2).replace(b"numpy._core.multiarray",
                                                         b"numpy.core.multiarray")
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tf.addfile(info, io.BytesIO(raw))

        for name in formats.CIFAR_TRAIN + [formats.CIFAR_TEST]:
            n = n_test if name == formats.CIFAR_TEST else n_per_batch
            data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
            labels = [(label + i) % 10 for i in range(n)]
            label += n
            batches[name] = (data, labels)
            add(name, {b"batch_label": b"x", b"labels": labels, b"data": data,
                       b"filenames": [b"f.png"] * n})
        add("batches.meta", {b"label_names": [b"airplane"] * 10, b"num_vis": 3072})
    return buf.getvalue(), batches


def idx_gz(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                      for d in arr.shape)
    return gzip.compress(header + arr.astype(np.uint8).tobytes())


def wikitext_zip(train: str, valid: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("wikitext-103-raw/wiki.train.raw", train.encode("utf-8"))
        zf.writestr("wikitext-103-raw/wiki.valid.raw", valid.encode("utf-8"))
        zf.writestr("wikitext-103-raw/wiki.test.raw", "test".encode("utf-8"))
    return buf.getvalue()


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(transfer, "BACKOFF_S", 0.0)
    monkeypatch.delenv(transfer.MIRROR_ENV, raising=False)
    monkeypatch.delenv(convmixer.WEIGHTS_ENV, raising=False)
    with LocalServer() as s:
        yield s


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A temporary project root with a copy of config/datasets.yaml; `set(**entries)`
    overrides or adds catalog entries."""
    (tmp_path / "config").mkdir()
    base = yaml.safe_load((REPO / "config" / "datasets.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NOISESPARSE_ROOT", raising=False)

    def set_entries(**entries):
        for name, over in entries.items():
            base[name] = {**base.get(name, {}), **over}
        (tmp_path / "config" / "datasets.yaml").write_text(yaml.safe_dump(base))
        catalog._catalog.cache_clear()

    set_entries()
    yield set_entries
    catalog._catalog.cache_clear()


def _no_outputs(root: Path, name: str, raw_file: str):
    assert not (root / "data" / "processed" / f"{name}.pt").exists()
    assert not (root / "data" / "raw" / raw_file).exists()
    leftovers = list((root / "data" / "processed").glob("*")) if (
        root / "data" / "processed").exists() else []
    assert leftovers == []


# ------------------------------------------------------------------------------ CIFAR-10


def test_real_catalog_pins_official_sources():
    cat = yaml.safe_load((REPO / "config" / "datasets.yaml").read_text())
    assert cat["cifar10"]["url"] == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert cat["cifar10_latents"]["weights"]["sha256"] == WEIGHTS_SHA
    assert set(cat["mnist"]["files"]) == set(formats.MNIST_FILES.values())
    for entry in (cat["cifar10"], cat["wikitext103"], *[{"sha256": s} for s in
                                                         cat["mnist"]["files"].values()]):
        assert len(entry["sha256"]) == 64 and int(entry["sha256"], 16) >= 0


def test_cifar10_downloads_parses_and_builds(server, project, tmp_path, capsys):
    blob, batches = cifar_archive(np.random.default_rng(0))
    server.files["/cifar-10-python.tar.gz"] = blob
    project(cifar10={"url": server.url("cifar-10-python.tar.gz"), "sha256": sha(blob)})
    from noisesparse.pipeline.cli import main
    main(["data", "cifar10"])  # `noisesparse data cifar10`
    assert "data/processed/cifar10.pt" in capsys.readouterr().out
    d = catalog.load("cifar10")
    assert d["x_train"].shape == (15, 3072) and d["x_test"].shape == (4, 3072)
    assert d["x_train"].dtype == torch.float32 and d["y_train"].dtype == torch.int64
    want = np.concatenate([batches[n][0] for n in formats.CIFAR_TRAIN]) / 255.0
    np.testing.assert_allclose(d["x_train"].numpy(), want, rtol=0, atol=1e-7)
    np.testing.assert_allclose(d["x_test"].numpy(), batches["test_batch"][0] / 255.0, atol=1e-7)
    assert d["y_test"].tolist() == batches["test_batch"][1]
    assert d["meta"]["shape"] == [3, 32, 32] and d["meta"]["n_classes"] == 10
    assert d["meta"]["kind"] == "cifar10" and d["meta"]["sources"][0]["sha256"] == sha(blob)
    assert (tmp_path / "data" / "raw" / "cifar-10-python.tar.gz").read_bytes() == blob
    assert not list((tmp_path / "data" / "raw").glob("*.part"))


def test_archive_members_are_read_in_place_never_unpacked(server, project, tmp_path):
    """Members that would escape the folder if unpacked (.., absolute, links) are harmless:
    the builders read the members they need out of the archive and write nothing else."""
    blob, batches = cifar_archive(np.random.default_rng(2))
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(blob)) as src, \
            tarfile.open(fileobj=buf, mode="w:gz") as dst:
        for m in src.getmembers():
            dst.addfile(m, src.extractfile(m))
        for name in ("../evil.txt", f"/{tmp_path.name}-abs-evil.txt"):
            info = tarfile.TarInfo(name)
            info.size = 4
            dst.addfile(info, io.BytesIO(b"evil"))
        link = tarfile.TarInfo("cifar-10-batches-py/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        dst.addfile(link)
    hostile = buf.getvalue()
    server.files["/cifar-10-python.tar.gz"] = hostile
    project(cifar10={"url": server.url("cifar-10-python.tar.gz"), "sha256": sha(hostile)})
    before = set(tmp_path.parent.iterdir())
    catalog.build("cifar10")
    assert catalog.load("cifar10")["x_test"].shape == (4, 3072)
    assert set(tmp_path.parent.iterdir()) == before  # nothing beside the project
    made = sorted(str(q.relative_to(tmp_path)) for q in tmp_path.rglob("*") if q.is_file())
    assert [m for m in made if not m.startswith("config/") and not m.endswith(".lock")] == [
        "data/processed/cifar10.pt", "data/raw/cifar-10-python.tar.gz"]


def test_corrupted_download_raises_and_leaves_no_dataset(server, project, tmp_path):
    blob, _ = cifar_archive(np.random.default_rng(1))
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 0xFF
    server.files["/cifar-10-python.tar.gz"] = bytes(bad)
    project(cifar10={"url": server.url("cifar-10-python.tar.gz"), "sha256": sha(blob)})
    with pytest.raises(ConfigError) as e:
        catalog.build("cifar10")
    assert sha(blob) in str(e.value) and sha(bytes(bad)) in str(e.value)
    _no_outputs(tmp_path, "cifar10", "cifar-10-python.tar.gz")
    assert not (tmp_path / "data" / "raw" / "cifar-10-python.tar.gz.part").exists()


def test_truncated_transfer_is_resumed_into_a_whole_dataset(server, project, tmp_path):
    blob, _ = cifar_archive(np.random.default_rng(2))
    server.files["/cifar-10-python.tar.gz"] = blob
    server.truncate["/cifar-10-python.tar.gz"] = [len(blob) // 3]
    project(cifar10={"url": server.url("cifar-10-python.tar.gz"), "sha256": sha(blob)})
    catalog.build("cifar10")
    assert [r["status"] for r in server.log] == [200, 206]
    assert catalog.load("cifar10")["x_train"].shape == (15, 3072)


def test_transfer_that_keeps_failing_never_leaves_a_half_written_dataset(server, project,
                                                                         tmp_path):
    blob, _ = cifar_archive(np.random.default_rng(3))
    server.files["/cifar-10-python.tar.gz"] = blob
    server.range_support = False
    server.truncate["/cifar-10-python.tar.gz"] = [100] * 10
    project(cifar10={"url": server.url("cifar-10-python.tar.gz"), "sha256": sha(blob)})
    with pytest.raises(ConfigError, match="ended early"):
        catalog.build("cifar10")
    _no_outputs(tmp_path, "cifar10", "cifar-10-python.tar.gz")


def test_cifar_pickle_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    raw = pickle.dumps({b"data": Evil(), b"labels": [0]}, protocol=2)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name in formats.CIFAR_TRAIN + [formats.CIFAR_TEST]:
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tf.addfile(info, io.BytesIO(raw))
    (tmp_path / "c.tar.gz").write_bytes(buf.getvalue())
    with pytest.raises(ConfigError, match="refusing to unpickle"):
        formats.cifar10_python(tmp_path / "c.tar.gz")


def test_local_mirror_directory_serves_offline(server, project, tmp_path, monkeypatch):
    blob, _ = cifar_archive(np.random.default_rng(4))
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "cifar-10-python.tar.gz").write_bytes(blob)
    monkeypatch.setenv(transfer.MIRROR_ENV, str(mirror))
    project(cifar10={"sha256": sha(blob)})  # the official URL, never contacted
    catalog.build("cifar10")
    assert catalog.load("cifar10")["x_test"].shape == (4, 3072) and server.log == []


# ------------------------------------------------------------------------ MNIST, WikiText


def test_mnist_downloads_parses_and_builds(server, project, tmp_path):
    rng = np.random.default_rng(5)
    arrays = {"x_train": rng.integers(0, 256, (7, 28, 28)), "y_train": np.arange(7) % 10,
              "x_test": rng.integers(0, 256, (3, 28, 28)), "y_test": np.array([9, 0, 1])}
    files = {}
    for role, name in formats.MNIST_FILES.items():
        server.files[f"/mnist/{name}"] = idx_gz(arrays[role])
        files[name] = sha(server.files[f"/mnist/{name}"])
    project(mnist={"base_url": server.url("mnist") + "/", "files": files, "mirrors": []})
    catalog.build("mnist")
    d = catalog.load("mnist")
    assert d["x_train"].shape == (7, 784) and d["x_test"].shape == (3, 784)
    np.testing.assert_allclose(d["x_train"].numpy(), arrays["x_train"].reshape(7, -1) / 255.0,
                               atol=1e-7)
    assert d["y_test"].tolist() == [9, 0, 1] and d["y_train"].dtype == torch.int64
    assert d["meta"]["shape"] == [1, 28, 28] and d["meta"]["n_classes"] == 10
    assert sorted(p.name for p in (tmp_path / "data" / "raw").glob("*.gz")) == sorted(files)


def test_idx_with_wrong_length_is_refused(tmp_path):
    raw = gzip.decompress(idx_gz(np.zeros((2, 28, 28))))[:-5]
    (tmp_path / "x.gz").write_bytes(gzip.compress(raw))
    with pytest.raises(ConfigError, match="payload"):
        formats.read_idx(tmp_path / "x.gz")


def test_wikitext103_downloads_and_builds_official_split(server, project):
    train, valid = " = Valkyria = \n naïve café — 🙂 \n" * 5, " = Valid = \n text \n"
    blob = wikitext_zip(train, valid)
    server.files["/wikitext-103-raw-v1.zip"] = blob
    project(wikitext103={"url": server.url("wikitext-103-raw-v1.zip"), "sha256": sha(blob)})
    catalog.build("wikitext103")
    d = catalog.load("wikitext103")
    assert d["meta"]["kind"] == "text" and d["x_train"].dtype == torch.uint8
    assert bytes(d["x_train"].to(torch.uint8).tolist()).decode("utf-8") == train
    assert bytes(d["x_test"].to(torch.uint8).tolist()).decode("utf-8") == valid


# ---------------------------------------------------------------------------- ConvMixer


def _photo_patches(n_per_image=12, seed=0):
    """CIFAR-format uint8 [N, 3, 32, 32] crops of the colour photographs in scikit-image."""
    from skimage import data as skdata
    rng = np.random.default_rng(seed)
    out = []
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        img = getattr(skdata, name)()[..., :3]
        h, w = img.shape[:2]
        for _ in range(n_per_image):
            r, c = rng.integers(0, h - 32), rng.integers(0, w - 32)
            out.append(img[r:r + 32, c:c + 32].transpose(2, 0, 1))
    return np.stack(out)


needs_weights = pytest.mark.skipif(not WEIGHTS.exists(), reason=f"{WEIGHTS} not available")


@needs_weights
def test_convmixer_matches_the_authors_state_dict_and_latent_norms():
    state = torch.load(WEIGHTS, weights_only=True)
    model = convmixer.ConvMixer()
    model.load_state_dict(state, strict=True)  # every key and shape matches
    assert model.classifier.weight.shape == (1000, 256)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    x = _photo_patches()
    z = convmixer.embed(x, WEIGHTS, "cpu", batch=64)
    assert z.shape == (48, 256) and z.dtype == np.float32
    norms = np.linalg.norm(z, axis=1)
    raw = np.linalg.norm(x.reshape(len(x), -1) / 255.0, axis=1)
    # The spec: CIFAR-10 latents have L2 norms centred near 2.7 (raw pixels: near 28).
    # On these 48 natural-photo crops the median is 2.78 (range about 2.1-3.4). The band
    # 1.5-4.5 allows for photos not being CIFAR images; it catches pixels fed as 0..255
    # (median ~1600) or a missing residual (~5.5). It cannot see the exact normalisation
    # constants (ImageNet mean/std also gives 2.78): BatchNorm absorbs those.
    assert 1.5 < np.median(norms) < 4.5, np.median(norms)
    assert np.median(raw) > 5 * np.median(norms)
    # float [0, 1] input and flattened [N, 3072] input give the same latents
    z2 = convmixer.embed(torch.from_numpy(x.reshape(len(x), -1) / 255.0).float(), WEIGHTS,
                         "cpu", batch=64)
    np.testing.assert_allclose(z, z2, atol=1e-4)


@needs_weights
def test_cifar10_latents_builder_embeds_both_splits(server, project, tmp_path, monkeypatch):
    blob, batches = cifar_archive(np.random.default_rng(6), n_per_batch=2, n_test=3)
    server.files["/cifar-10-python.tar.gz"] = blob
    server.files["/w/ConvMixer_ImgNet32_WTransforms_Just_State_Dict"] = WEIGHTS.read_bytes()
    project(cifar10={"url": server.url("cifar-10-python.tar.gz"), "sha256": sha(blob)},
            cifar10_latents={"device": "cpu", "batch": 4, "weights": {
                "url": server.url("w/ConvMixer_ImgNet32_WTransforms_Just_State_Dict"),
                "sha256": WEIGHTS_SHA}})
    catalog.build("cifar10_latents")  # builds cifar10 first, fetches the weights
    d = catalog.load("cifar10_latents")
    assert d["x_train"].shape == (10, 256) and d["x_test"].shape == (3, 256)
    assert d["meta"]["shape"] == [256] and d["meta"]["n_classes"] == 10
    assert d["y_test"].tolist() == batches["test_batch"][1]
    assert (tmp_path / "data" / "processed" / "cifar10.pt").exists()
    assert (tmp_path / "data" / "raw" / "ConvMixer_ImgNet32_WTransforms_Just_State_Dict").exists()
    cifar = catalog.load("cifar10")
    want = convmixer.embed(cifar["x_test"], WEIGHTS, "cpu")
    np.testing.assert_allclose(d["x_test"].numpy(), want, atol=1e-5)
    # a local copy named by NOISESPARSE_CONVMIXER_WEIGHTS is used (and checked) instead
    monkeypatch.setenv(convmixer.WEIGHTS_ENV, str(WEIGHTS))
    assert convmixer.weights_file({"url": "http://127.0.0.1:9/none", "sha256": WEIGHTS_SHA}) \
        == str(WEIGHTS)
    with pytest.raises(ConfigError, match="checksum"):
        convmixer.weights_file({"sha256": "0" * 64})


@needs_weights
def test_natural_latents_embed_embedded_photo_patches(project, monkeypatch):
    """The quick profile's optional latent study: ConvMixer latents of 32x32 colour patches
    of the photographs in scikit-image, offline with a local copy of the weights."""
    monkeypatch.setenv(convmixer.WEIGHTS_ENV, str(WEIGHTS))
    torch.set_num_threads(min(2, torch.get_num_threads()))
    project(natural_colour32={"n_train": 40, "n_test": 8},
            natural_latents={"device": "cpu", "batch": 16})
    assert not catalog.is_labelled("natural_latents") and catalog.is_labelled("cifar10_latents")
    catalog.build("natural_latents")  # builds its source first
    d = catalog.load("natural_latents")
    src = catalog.load("natural_colour32")
    assert d["x_train"].shape == (40, 256) and d["x_test"].shape == (8, 256)
    assert d["y_train"] is None and d["meta"]["n_classes"] == 0
    assert d["meta"]["source"] == "natural_colour32" and src["meta"]["shape"] == [3, 32, 32]
    np.testing.assert_allclose(d["x_test"].numpy(),
                               convmixer.embed(src["x_test"], WEIGHTS, "cpu"), atol=1e-5)
    assert 1.5 < float(d["x_train"].norm(dim=1).median()) < 4.5  # ~2.7 (docs/data.md)


def test_latents_of_a_non_cifar_format_source_are_refused(project, monkeypatch):
    monkeypatch.setenv(convmixer.WEIGHTS_ENV, __file__)  # any file: the shape check comes first
    project(natural_grey6={"n_train": 4, "n_test": 2},
            bad_latents={"kind": "convmixer_latents", "source": "natural_grey6"})
    with pytest.raises(ConfigError, match=r"needs CIFAR-format \[3, 32, 32\]"):
        catalog.build("bad_latents")
    assert not (Path("data/processed/bad_latents.pt")).exists()


# ---------------------------------------------------------------------------- image_folder


def _write_pngs(folder: Path, n: int, shape=(40, 50, 3), seed=0):
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"im{i}.png")


def test_image_folder_patches_grey(project, tmp_path):
    _write_pngs(tmp_path / "photos", 3)
    project(mine={"kind": "image_folder", "path": "photos", "size": 8, "colour": False,
                  "n_patches": 200, "test_fraction": 0.25, "seed": 1})
    catalog.build("mine")
    d = catalog.load("mine")
    assert d["x_train"].shape == (150, 64) and d["x_test"].shape == (50, 64)
    assert d["y_train"] is None and d["meta"]["shape"] == [1, 8, 8]
    assert 0 <= float(d["x_train"].min()) and float(d["x_train"].max()) <= 1
    assert d["meta"]["split"] == "by strip"
    catalog.build("mine", out=str(tmp_path / "again.pt"))  # seeded: the same data again
    again = torch.load(tmp_path / "again.pt", weights_only=True)
    assert torch.equal(again["x_train"], d["x_train"])
    from noisesparse.pipeline.estimate import input_dim
    assert input_dim("mine") == 64


def test_image_folder_resize_colour_and_npy(project, tmp_path):
    _write_pngs(tmp_path / "many", 6, shape=(20, 30, 3))
    arr = np.random.default_rng(0).integers(0, 256, (5, 12, 12, 3), dtype=np.uint8)
    np.save(tmp_path / "arr.npy", arr)
    project(col={"kind": "image_folder", "path": str(tmp_path / "many"), "size": 16,
                 "colour": True, "mode": "resize", "test_fraction": 0.3},
            arr={"kind": "image_folder", "path": "arr.npy", "size": 12, "colour": True,
                 "mode": "resize", "test_fraction": 0.2})
    catalog.build("col")
    d = catalog.load("col")
    assert d["x_train"].shape == (4, 768) and d["x_test"].shape == (2, 768)
    assert d["meta"]["shape"] == [3, 16, 16] and d["meta"]["split"] == "by image"
    catalog.build("arr")
    a = catalog.load("arr")
    assert a["x_train"].shape == (4, 432) and a["x_test"].shape == (1, 432)
    flat = {tuple(np.round(r, 6)) for r in
            (arr.transpose(0, 3, 1, 2).reshape(5, -1) / 255.0).astype(np.float32)}
    assert {tuple(np.round(r, 6)) for r in a["x_train"].numpy()} <= flat


def test_image_folder_errors(project, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    project(missing={"kind": "image_folder", "path": "nope", "size": 8},
            empty={"kind": "image_folder", "path": "empty", "size": 8})
    with pytest.raises(ConfigError, match="does not exist"):
        catalog.build("missing")
    with pytest.raises(ConfigError, match="holds no images"):
        catalog.build("empty")
    assert not (tmp_path / "data" / "processed").exists()


# ------------------------------------------------------------------ damaged processed data


def test_processed_dataset_records_and_checks_its_checksum(project):
    path = catalog.build("natural_grey6")
    blob = catalog.load("natural_grey6")
    assert blob["meta"]["content_sha256"] == catalog.content_sha256(blob)
    assert len(blob["meta"]["content_sha256"]) == 64


# ------------------------------------------------------------------------ pinned checksums


def _pinned(node, where=""):
    """(where, value) of every pinned checksum in datasets.yaml: each `sha256` value and
    each value of an MNIST-style `files` map (file name -> sha256)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "sha256":
                yield f"{where}.{k}", v
            elif k == "files" and isinstance(v, dict):
                yield from ((f"{where}.files.{f}", h) for f, h in v.items())
            else:
                yield from _pinned(v, f"{where}.{k}" if where else str(k))


def test_pinned_checksums_are_well_formed_unique_and_sourced():
    """Every pinned SHA-256 is 64 lowercase hex digits, no two entries pin the same value
    (a copy-paste slip), and a comment above it names two independent sources (the MNIST
    t10k-labels value was wrong once, and nothing noticed)."""
    text = (REPO / "config" / "datasets.yaml").read_text()
    cat = yaml.safe_load(text)
    pins = list(_pinned(cat))
    # cifar10, mnist x4, wikitext103 and the ConvMixer weights (shared by two entries)
    assert len({v for _, v in pins}) >= 7, pins
    import re
    for where, value in pins:
        assert isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value), (where, value)
    by_value = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.search(r"\b[0-9a-fA-F]{64}\b", line)
        if not m or line.lstrip().startswith("#"):
            continue
        assert m.group(0) not in by_value, f"{m.group(0)} pinned twice (lines {by_value.get(m.group(0))}, {i + 1})"
        by_value[m.group(0)] = i + 1
        j = i - 1  # the nearest comment block above this entry names its sources
        while j >= 0 and not lines[j].lstrip().startswith("#"):
            j -= 1
        block = []
        while j >= 0 and lines[j].lstrip().startswith("#"):
            block.append(lines[j])
            j -= 1
        comment = " ".join(block)
        assert "(1)" in comment and "(2)" in comment, f"line {i + 1}: no two sources: {line}"
    assert {v for _, v in pins} == set(by_value)  # YAML anchors reuse, never repeat, a value


@pytest.mark.parametrize("damage", ["half", "tail", "empty", "flip"])
def test_damaged_processed_dataset_names_the_file_and_the_rebuild_command(project, damage):
    """A truncated data/processed/*.pt used to raise OSError/RuntimeError from deep inside
    torch; a flipped byte in the tensors loaded silently. Both now name the file and say how
    to rebuild it, and the rebuild gives a dataset that loads again."""
    path = Path(catalog.build("natural_grey6"))
    raw = path.read_bytes()
    if damage == "half":
        raw = raw[:len(raw) // 2]
    elif damage == "tail":
        raw = raw[:-10]
    elif damage == "empty":
        raw = b""
    else:  # one byte inside the stored x_train values: torch.load itself succeeds
        at = raw.index(b"data/0") + 4096
        raw = raw[:at] + bytes([raw[at] ^ 0x5A]) + raw[at + 1:]
        torch.load(io.BytesIO(raw), weights_only=True)
    path.write_bytes(raw)
    with pytest.raises(ConfigError) as e:
        catalog.load("natural_grey6")
    msg = str(e.value)
    assert "data/processed/natural_grey6.pt is damaged" in msg
    assert "`noisesparse data natural_grey6`" in msg
    if damage == "flip":
        assert "sha256" in msg
    catalog.build("natural_grey6")
    assert catalog.load("natural_grey6")["x_train"].shape[1] == 36


def test_a_processed_dataset_without_its_checksum_is_damaged(project):
    path = catalog.build("natural_grey6")
    blob = torch.load(path, weights_only=True)
    del blob["meta"]["content_sha256"]
    torch.save(blob, path)
    with pytest.raises(ConfigError, match="records no content_sha256"):
        catalog.load("natural_grey6")


def test_centre_patches_removes_each_mean_and_drops_flat_ones():
    from noisesparse.data.embedded import centre_patches

    x = np.array([[0.5, 0.5, 0.5, 0.5],       # flat: dropped
                  [0.0, 1.0, 0.0, 1.0],       # std 0.5: kept, mean 0.5 removed
                  [0.2, 0.2, 0.2, 0.21]])     # std ~0.004 < 0.01: dropped
    out = centre_patches(x, min_std=0.01)
    assert out.shape == (1, 4)
    np.testing.assert_allclose(out[0], [-0.5, 0.5, -0.5, 0.5])


def test_centred_natural_patches_variant_keeps_the_raw_one_unchanged():
    from noisesparse.data.embedded import natural_patches

    raw = natural_patches(6, False, 300, 50, seed=0)
    again = natural_patches(6, False, 300, 50, seed=0, centre=False)
    np.testing.assert_array_equal(raw[0], again[0])  # the raw variant's draws did not move
    assert (raw[0].std(axis=1) < 0.01).any()  # flat raw patches exist (sky, backgrounds)
    xtr, _, xte, _, shape = natural_patches(6, False, 300, 50, seed=0, centre=True,
                                            min_std=0.01)
    assert xtr.shape == (300, 36) and xte.shape == (50, 36) and shape == [1, 6, 6]
    for x in (xtr, xte):
        np.testing.assert_allclose(x.mean(axis=1), 0, atol=1e-6)
        assert (x.std(axis=1) >= 0.01 - 1e-6).all()
    with pytest.raises(ValueError, match="centre"):
        natural_patches(6, False, 10, 10, seed=0, min_std=0.01)


def test_a_dataset_lives_under_the_project_root_whatever_the_working_directory(
        project, tmp_path, monkeypatch):
    """NOISESPARSE_ROOT names the project: a dataset is built, found and read there when
    the command runs from another directory (as results are), never beside the caller."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("NOISESPARSE_ROOT", str(tmp_path))
    monkeypatch.chdir(elsewhere)
    path = catalog.build("natural_grey6")
    assert Path(path) == tmp_path / "data/processed/natural_grey6.pt" and Path(path).exists()
    assert catalog.load("natural_grey6")["x_train"].shape[1] == 36
    assert not any(elsewhere.iterdir())
