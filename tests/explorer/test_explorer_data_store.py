"""The app's dataset folder: safe names, listing with size and spec, validated uploads."""

import numpy as np
import pytest

import vaeflow
from explorer import data_store
from bad_datasets import BAD_FILES, CONTENT_DAMAGE, flip_inside_member


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEFLOW_DATA_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def small():
    return vaeflow.generate_dataset(6, seed=3, spec=vaeflow.FlowSpec(a_mean=1.0))


def test_names_stay_inside_the_folder(folder):
    assert data_store.dataset_path("flow") == folder / "flow.npz"
    assert data_store.dataset_path("flow.npz") == folder / "flow.npz"
    for bad in ("", "../x", "a/b", ".hidden", "x" * 65, "a..b"):
        with pytest.raises(ValueError, match="name"):
            data_store.dataset_path(bad)


def test_save_then_list_shows_size_seed_and_spec(folder, small):
    path = data_store.save(small, "six")
    assert path == folder / "six.npz"
    (info,) = data_store.list_datasets()
    assert (info.name, info.n_images, info.seed, info.error) == ("six", 6, 3, None)
    assert info.spec["a_mean"] == 1.0 and info.megabytes > 0
    with pytest.raises(ValueError, match="taken"):
        data_store.save(small, "six")


def test_a_foreign_file_in_the_folder_is_listed_as_unreadable(folder):
    (folder / "junk.npz").write_bytes(b"not a zip at all")
    (info,) = data_store.list_datasets()
    assert info.n_images is None and "not an .npz" in info.error


def test_upload_is_validated_before_it_is_stored(folder, small, tmp_path_factory):
    source = tmp_path_factory.mktemp("src") / "ok.npz"
    vaeflow.save_dataset(small, source)
    content = source.read_bytes()
    assert len(data_store.load_upload(content).images) == 6
    data_store.save_upload(content, "uploaded")
    assert (folder / "uploaded.npz").read_bytes() == content

    foreign = tmp_path_factory.mktemp("src") / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    for bad in (content[: len(content) // 2], b"garbage", foreign.read_bytes()):
        with pytest.raises(ValueError):
            data_store.save_upload(bad, "bad")
    assert not (folder / "bad.npz").exists()


def test_preview_is_the_start_of_the_generated_dataset():
    spec = vaeflow.FlowSpec(a_mean=1.5, a_std=0.5, theta_min=1.0, theta_max=2.0, cmap="viridis")
    images, factors = data_store.preview(5, 11, spec)
    full = vaeflow.generate_dataset(7, 11, spec)
    assert np.array_equal(images, full.images[:5]) and np.array_equal(factors, full.factors[:5])


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_the_list_refuses_every_file_load_dataset_refuses(kind, folder, small, tmp_path):
    good = tmp_path / "elsewhere" / "good.npz"
    vaeflow.save_dataset(small, good)
    bad = folder / "bad.npz"
    BAD_FILES[kind](bad, good)
    (info,) = data_store.list_datasets()
    assert info.error and info.n_images is None and str(folder) not in info.error
    with pytest.raises(ValueError):
        vaeflow.load_dataset(bad)


def test_a_seed_past_int64_is_listed_as_an_error_not_an_arrow_overflow(folder, small):
    import json

    path = folder / "big-seed.npz"
    meta = json.dumps({"format": "vaeflow.dataset", "version": 1, "seed": 2**64,
                       "spec": small.spec.to_dict()})
    with open(path, "wb") as f:
        np.savez(f, images=small.images, factors=small.factors, meta=np.array(meta))
    (info,) = data_store.list_datasets()
    assert info.seed is None and "meta.seed" in info.error
    with pytest.raises(ValueError, match="seed"):
        vaeflow.load_dataset(path)


def test_a_save_that_lost_the_race_to_another_tab_is_refused(folder, small, monkeypatch):
    real_savez = np.savez

    def savez_while_another_tab_saves(f, **arrays):
        monkeypatch.setattr(np, "savez", real_savez)
        data_store.save(vaeflow.generate_dataset(2, seed=9), "flow")
        real_savez(f, **arrays)

    monkeypatch.setattr(np, "savez", savez_while_another_tab_saves)
    with pytest.raises(ValueError, match="taken"):
        data_store.save(small, "flow")
    assert vaeflow.load_dataset(folder / "flow.npz").seed == 9


@pytest.mark.parametrize("kind", sorted(CONTENT_DAMAGE))
def test_damage_inside_the_data_is_named_in_the_list(kind, folder, small, tmp_path):
    good = tmp_path / "elsewhere" / "good.npz"
    vaeflow.save_dataset(small, good)
    BAD_FILES[kind](folder / "bad.npz", good)
    vaeflow.read_header(folder / "bad.npz")  # every header is intact
    (info,) = data_store.list_datasets()
    assert ("corrupted (images)" in info.error if "factors" not in kind
            else "factors must be finite" in info.error), info.error


def test_the_full_check_runs_once_per_file_version(folder, small, monkeypatch):
    path = data_store.save(small, "six")
    calls = []
    real_check = data_store.check_dataset
    monkeypatch.setattr(data_store, "check_dataset", lambda p: calls.append(p) or real_check(p))
    for _ in range(3):
        (info,) = data_store.list_datasets()
    assert info.error is None and len(calls) == 1
    # Damaged in place (same size): a new version of the file, checked again.
    path.write_bytes(flip_inside_member(path.read_bytes(), "images.npy"))
    (info,) = data_store.list_datasets()
    assert "corrupted (images)" in info.error and len(calls) == 2
