"""explorer.heldout_store: the renderer digest follows the renderer's files; held-out sets are
rendered once, read back, never reused across renderers, and the folder stays bounded."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import vaeflow
from explorer import heldout_store

SPEC_JSON = vaeflow.FlowSpec().to_json()


@pytest.fixture
def renderer_copy(tmp_path):
    """A copy of the files the digest reads, plus one it must ignore."""
    source = Path(vaeflow.__file__).resolve().parent
    root = tmp_path / "vaeflow"
    (root / "models").mkdir(parents=True)
    shutil.copy(source / "datasets.py", root / "datasets.py")
    for folder in ("rendering", "flows"):
        (root / folder).mkdir()
        for path in source.glob(f"{folder}/*.py"):
            shutil.copy(path, root / folder / path.name)
    (root / "models" / "vae.py").write_text("# not the renderer\n")
    return root


def test_the_digest_changes_when_a_renderer_file_changes(renderer_copy):
    before = heldout_store.renderer_version(renderer_copy)
    assert len(before) == 16 and before == heldout_store.renderer_version(renderer_copy)
    for name in ("rendering/raster.py", "flows/chain.py", "rendering/levels.py"):
        path = renderer_copy / name
        original = path.read_bytes()
        path.write_bytes(original + b"\n# edited\n")
        assert heldout_store.renderer_version(renderer_copy) != before, name
        path.write_bytes(original)
        assert heldout_store.renderer_version(renderer_copy) == before
    (renderer_copy / "models" / "vae.py").write_text("# retrained\n")
    assert heldout_store.renderer_version(renderer_copy) == before  # not a renderer file


def test_a_set_is_rendered_once_then_read_back(tmp_path, monkeypatch):
    first = heldout_store.load_or_render(SPEC_JSON, 12, 3, "v1", tmp_path)
    expected = vaeflow.generate_dataset(12, 3)
    np.testing.assert_array_equal(first[0], expected.images)
    np.testing.assert_array_equal(first[1], expected.factors)
    monkeypatch.setattr(vaeflow, "generate_dataset", lambda *a, **k: pytest.fail("rendered again"))
    second = heldout_store.load_or_render(SPEC_JSON, 12, 3, "v1", tmp_path)
    np.testing.assert_array_equal(second[0], first[0])
    assert second[0].dtype == np.uint8 and second[1].dtype == np.float32


def test_another_renderer_or_a_broken_file_renders_again_and_old_files_go(tmp_path, monkeypatch):
    heldout_store.load_or_render(SPEC_JSON, 6, 0, "old", tmp_path)
    (old_file,) = tmp_path.glob("heldout-old-*.npz")
    calls = []
    real = vaeflow.generate_dataset
    monkeypatch.setattr(vaeflow, "generate_dataset", lambda *a, **k: calls.append(a) or real(*a, **k))
    heldout_store.load_or_render(SPEC_JSON, 6, 0, "new", tmp_path)
    assert len(calls) == 1 and not old_file.exists()
    (new_file,) = tmp_path.glob("heldout-*.npz")
    new_file.write_bytes(b"PK\x03\x04 truncated")
    images, _ = heldout_store.load_or_render(SPEC_JSON, 6, 0, "new", tmp_path)
    assert len(calls) == 2 and images.shape == (6, 36, 36, 3)
    assert [p.name for p in tmp_path.iterdir()] == [new_file.name]  # no temp files left


def test_the_folder_keeps_only_the_newest_sets_of_this_renderer(tmp_path):
    for seed in range(heldout_store.KEEP + 2):
        heldout_store.load_or_render(SPEC_JSON, 2, seed, "v", tmp_path)
        # distinct mtimes, oldest first, whatever the file system's clock resolution
        path = heldout_store.heldout_path(tmp_path, SPEC_JSON, 2, seed, "v")
        os.utime(path, (1e9 + seed, 1e9 + seed))
    heldout_store.prune(tmp_path, "v")
    kept = {p.name for p in tmp_path.glob("*.npz")}
    assert kept == {heldout_store.heldout_path(tmp_path, SPEC_JSON, 2, seed, "v").name
                    for seed in range(2, heldout_store.KEEP + 2)}


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEFLOW_CACHE_DIR", str(tmp_path / "c"))
    assert heldout_store.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("VAEFLOW_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert heldout_store.cache_dir() == tmp_path / ".cache" / "vaeflow"
