"""Listing collections (torch-free): manifests, WebDataset shards, Hugging Face datasets.

Every kind is made from the same few images (:mod:`tests.source_helpers`) and must list them
in the same order with the same labels; each bad input gets a message naming the file, the
row or member, and the fix.
"""

import io
import os
import tarfile

import numpy as np
import pytest

pytest.importorskip("PIL")
pytest.importorskip("sklearn")

from dks._options import command_line
from dks.sources import (
    HFDataset,
    Manifest,
    SourceError,
    WebDataset,
    expand_braces,
    open_collection,
    source_kind,
)
from tests.source_helpers import (
    CLASSES,
    digit_images,
    make_folder,
    make_hf_dataset,
    make_manifest,
    make_shards,
)


@pytest.fixture(scope="module")
def images():
    return digit_images()


@pytest.fixture
def folder(tmp_path, images):
    return make_folder(tmp_path / "digits", images)


def _labels(images):
    return [c for c, _, _ in images]


# ------------------------------------------------------------------------ manifests
@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_manifest_lists_the_folder_s_files(tmp_path, folder, images, suffix):
    path = make_manifest(
        tmp_path / f"val{suffix}", folder, images, sep="\t" if suffix == ".tsv" else ","
    )
    found = Manifest(path)
    files = [os.fspath(folder / c / n) for c, n, _ in images]
    assert found.identities == files == found.files
    assert found.labels.tolist() == _labels(images)
    assert found.classes == CLASSES and found.name == "val" and found.kind == "manifest"
    assert found.open(0) == files[0]


def test_manifest_parquet_and_absolute_paths(tmp_path, folder, images):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    files = [os.fspath(folder / c / n) for c, n, _ in images]
    table = pa.table({"file": files, "cls": _labels(images)})
    (tmp_path / "elsewhere").mkdir()
    pq.write_table(table, tmp_path / "elsewhere" / "m.parquet")
    found = Manifest(tmp_path / "elsewhere" / "m.parquet", path_column="file", label_column="cls")
    assert found.identities == files
    assert found.labels.tolist() == _labels(images)


def test_manifest_missing_columns_lists_those_found(tmp_path, folder, images):
    path = make_manifest(tmp_path / "m.csv", folder, images, path_column="file")
    with pytest.raises(SourceError, match=r"no column 'path'; its columns are 'file', 'label'"):
        Manifest(path)
    with command_line(), pytest.raises(SourceError, match="--path-column"):
        Manifest(path)


def test_manifest_empty_label_names_the_line(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("path,label\na.png,cat\nb.png, \nc.png,dog\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"line 3 of the manifest .* has an empty label"):
        Manifest(path)


def test_manifest_missing_file_is_listed_not_checked(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("path,label\nnowhere.png,cat\nb.png,dog\n", encoding="utf-8")
    found = Manifest(path)  # a missing image is skipped when embedded, like a bad one
    assert found.open(0) == os.fspath(tmp_path / "nowhere.png")


def test_manifest_that_does_not_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Manifest(tmp_path / "m.csv")


# -------------------------------------------------------------------------- shards
@pytest.mark.parametrize("index_labels", [False, True])
def test_shards_list_the_same_images(tmp_path, images, index_labels):
    pattern = make_shards(tmp_path / "shards", images, n_shards=3, index_labels=index_labels)
    found = WebDataset(pattern)
    assert len(found.shards) == 3
    assert found.labels.tolist() == _labels(images)
    assert found.classes == CLASSES and found.name == "shards"
    assert found.names[0] == "shard-000000.tar#one/img_0"
    assert found.identities[0] == os.fspath(tmp_path / "shards" / "shard-000000.tar#one/img_0")
    assert found.open(5).read() == images[5][2]  # the member's bytes, read in place
    glob = WebDataset(os.fspath(tmp_path / "shards" / "*.tar"))
    assert glob.names == found.names


def test_shards_subset_and_pickle(tmp_path, images):
    import pickle

    found = WebDataset(make_shards(tmp_path / "s", images))
    part = pickle.loads(pickle.dumps(found.subset([7, 2])))
    assert part.names == [found.names[7], found.names[2]]
    assert part.open(0).read() == images[7][2]


def test_expand_braces():
    assert expand_braces("a-{08..10}.tar") == ["a-08.tar", "a-09.tar", "a-10.tar"]
    assert expand_braces("{x,y}-{0..1}.tar") == ["x-0.tar", "x-1.tar", "y-0.tar", "y-1.tar"]


def test_a_pattern_that_matches_no_shard(tmp_path, images):
    make_shards(tmp_path / "s", images)
    with pytest.raises(SourceError, match=r"matches no shard .* from 'shard-000000.tar' to"):
        WebDataset(os.fspath(tmp_path / "s" / "train-{000000..000003}.tar"))
    with pytest.raises(SourceError, match="matches no shard"):
        WebDataset(os.fspath(tmp_path / "s" / "nothing-*.tar"))


def test_a_sample_without_cls_names_the_member(tmp_path):
    shard = tmp_path / "a.tar"
    with tarfile.open(shard, "w") as tar:
        info = tarfile.TarInfo("x/k1.png")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(SourceError, match=r"The sample 'x/k1' of the shard .* has no '.cls'"):
        WebDataset(shard)


def test_an_empty_cls_is_an_empty_label(tmp_path):
    shard = tmp_path / "a.tar"
    with tarfile.open(shard, "w") as tar:
        for name, data in (("k.png", b"abc"), ("k.cls", b" ")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(SourceError, match=r"The sample 'a.tar#k' has an empty label"):
        WebDataset(shard)


def test_a_compressed_shard_is_refused_with_the_fix(tmp_path):
    import gzip

    (tmp_path / "a.tar").write_bytes(gzip.compress(b"x" * 100))
    with pytest.raises(SourceError, match=r"is compressed.*Decompress it"):
        WebDataset(tmp_path / "a.tar")


# ------------------------------------------------------------- Hugging Face datasets
@pytest.fixture
def hf(tmp_path, images):
    pytest.importorskip("datasets")
    return make_hf_dataset(tmp_path / "digits_hf", images)


def test_saved_dataset_lists_the_same_images(hf, images):
    found = HFDataset(hf)
    assert found.labels.tolist() == _labels(images)
    assert found.classes == CLASSES and found.name == "digits_hf"
    assert found.names[3] == "train#3" and found.identities[3] == os.fspath(hf / "train#3")
    assert found.open(4).read() == images[4][2]
    assert found.record()["label_column"] == "label"


def test_dataset_dict_needs_a_split(tmp_path, images):
    pytest.importorskip("datasets")
    path = make_hf_dataset(tmp_path / "dd", images, splits=["train", "test"])
    with pytest.raises(SourceError, match=r"splits 'train', 'test'; choose one with split="):
        HFDataset(path)
    with command_line(), pytest.raises(SourceError, match="--split train"):
        HFDataset(path)
    with pytest.raises(SourceError, match=r"no split 'val'; its splits are 'train', 'test'"):
        HFDataset(path, split="val")
    test = HFDataset(path, split="test")
    assert test.names[0] == "test#0" and test.labels.tolist() == _labels(images)


def test_parquet_folder(tmp_path, images):
    datasets = pytest.importorskip("datasets")
    saved = make_hf_dataset(tmp_path / "saved", images)
    (tmp_path / "pq" / "data").mkdir(parents=True)
    datasets.load_from_disk(str(saved)).to_parquet(
        str(tmp_path / "pq" / "data" / "validation-00000-of-00001.parquet")
    )
    found = HFDataset(tmp_path / "pq")
    assert found.split == "validation" and found.labels.tolist() == _labels(images)
    assert found.open(2).read() == images[2][2]


def test_string_labels_without_classlabel(tmp_path, images):
    pytest.importorskip("datasets")
    path = make_hf_dataset(tmp_path / "s", images, class_label=False)
    assert HFDataset(path).labels.tolist() == _labels(images)


def test_dataset_without_a_label_column(tmp_path, images):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict(
        {"img": [{"bytes": d, "path": None} for _, _, d in images], "n": list(range(12))},
        features=datasets.Features(img=datasets.Image(), n=datasets.Value("int64")),
    )
    ds.save_to_disk(str(tmp_path / "nolabel"))
    with pytest.raises(
        SourceError,
        match=r"no ClassLabel column and no 'label' column; its columns are 'img', 'n'",
    ):
        HFDataset(tmp_path / "nolabel")
    with command_line(), pytest.raises(SourceError, match="--label-column"):
        HFDataset(tmp_path / "nolabel")
    assert HFDataset(tmp_path / "nolabel", label_column="n").image_column == "img"


def test_dataset_missing_column_lists_those_found(hf):
    with pytest.raises(
        SourceError, match=r"no column 'picture'; its columns are 'image', 'label'"
    ):
        HFDataset(hf, image_column="picture")


def test_a_row_without_label(tmp_path, images):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict(
        {"image": [{"bytes": d, "path": None} for _, _, d in images[:3]], "label": [0, -1, 1]},
        features=datasets.Features(
            image=datasets.Image(), label=datasets.ClassLabel(names=["a", "b"])
        ),
    )
    ds.save_to_disk(str(tmp_path / "d"))
    with pytest.raises(SourceError, match=r"Row 1 of the split 'train' of .* has an empty label"):
        HFDataset(tmp_path / "d")


def test_a_folder_that_is_no_dataset(tmp_path):
    pytest.importorskip("pyarrow")
    (tmp_path / "x").mkdir()
    with pytest.raises(SourceError, match="holds no Hugging Face dataset"):
        HFDataset(tmp_path / "x")


# ------------------------------------------------------------------------- opening
def test_source_kind_and_open(tmp_path, folder, images):
    manifest = make_manifest(tmp_path / "m.csv", folder, images)
    shards = make_shards(tmp_path / "s", images)
    assert source_kind(folder) == "folder"
    (folder / "data").mkdir()  # a class named "data", of images: still a folder
    (folder / "data" / "img.png").write_bytes(images[0][2])
    assert source_kind(folder) == "folder"
    assert source_kind(manifest) == "manifest"
    assert source_kind(shards) == "webdataset"
    assert source_kind(tmp_path / "nowhere") is None
    assert isinstance(open_collection(manifest), Manifest)
    with command_line(), pytest.raises(SourceError, match="--split applies to a Hugging Face"):
        open_collection(manifest, split="train")
    with pytest.raises(SourceError, match=r"path_column applies to a manifest; .* is WebDataset"):
        open_collection(shards, path_column="file")
    with pytest.raises(FileNotFoundError, match="does not exist, or is neither"):
        open_collection(tmp_path / "nowhere")


def test_subset_keeps_the_labels(tmp_path, folder, images):
    found = Manifest(make_manifest(tmp_path / "m.csv", folder, images))
    part = found.subset(np.array([11, 0]))
    assert part.labels.tolist() == ["zero", "one"] and part.classes == CLASSES


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_shard_headers_of_every_format(tmp_path, images, fmt):
    """The plain ustar headers are parsed directly, the others by tarfile: the same samples."""
    from dks.sources._webdataset import _tarfile_members, _ustar_members

    keys = ["a/short", "b" * 70 + "/" + "c" * 20]  # ustar: split into prefix and name
    if fmt != tarfile.USTAR_FORMAT:
        keys.append("d" * 120)  # a long name: GNU 'L' or pax 'x' header
    shard = tmp_path / "s.tar"
    with tarfile.open(shard, "w", format=fmt) as tar:
        for i, key in enumerate(keys):
            for ext, data in (("png", images[i][2]), ("cls", images[i][0].encode())):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    found = WebDataset(shard)
    assert found.names == [f"s.tar#{k}" for k in keys]
    assert [found.open(i).read() for i in range(len(keys))] == [
        d for _, _, d in images[: len(keys)]
    ]
    if fmt == tarfile.USTAR_FORMAT:
        with open(shard, "rb") as fh:
            assert _ustar_members(fh) == _tarfile_members(shard) == (_ustar_members(fh)[0], False)


@pytest.mark.parametrize("cls_first", [True, False])
def test_a_shard_cut_short_lists_what_it_holds(tmp_path, images, cls_first):
    """Cut in the middle of the 4th image: with '.cls' first (webdataset's TarWriter sorts
    the members), that image is listed and fails when read; with '.cls' after, the sample
    has no class and is left out, with a warning."""
    shard = tmp_path / "s.tar"
    with tarfile.open(shard, "w") as tar:
        for cls, name, data in images[:6]:
            members = [("png", data), ("cls", cls.encode())]
            for ext, content in members[::-1] if cls_first else members:
                info = tarfile.TarInfo(f"{cls}/{name[:-4]}.{ext}")
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    _, offset, size = WebDataset(shard).rows[3]
    shard.write_bytes(shard.read_bytes()[: offset + size // 2])
    if cls_first:
        found = WebDataset(shard)
        assert len(found) == 4
        from PIL import Image

        with pytest.raises(OSError, match=r"ends .* bytes before the end of the image"):
            Image.open(found.open(3)).load()
    else:
        with pytest.warns(UserWarning, match=r"is cut short .* lost its '.cls' member"):
            found = WebDataset(shard)
        assert len(found) == 3
