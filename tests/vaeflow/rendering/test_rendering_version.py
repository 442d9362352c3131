"""RENDERER_VERSION follows the files that decide an image's pixels, and only those."""

import shutil
from pathlib import Path

import pytest

import vaeflow
from vaeflow.rendering import RENDERER_VERSION
from vaeflow.rendering.version import source_digest


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
    before = source_digest(renderer_copy)
    assert len(before) == 16 and before == source_digest(renderer_copy)
    for name in ("rendering/raster.py", "flows/chain.py", "rendering/levels.py"):
        path = renderer_copy / name
        original = path.read_bytes()
        path.write_bytes(original + b"\n# edited\n")
        assert source_digest(renderer_copy) != before, name
        path.write_bytes(original)
        assert source_digest(renderer_copy) == before
    (renderer_copy / "models" / "vae.py").write_text("# retrained\n")
    assert source_digest(renderer_copy) == before  # not a renderer file


def test_the_version_is_the_digest_of_the_installed_renderer():
    assert RENDERER_VERSION == source_digest() == source_digest(Path(vaeflow.__file__).parent)
