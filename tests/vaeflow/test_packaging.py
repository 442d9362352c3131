"""vaeflow installs as a normal package: declared dependencies, the shipped model as package data,
and a wheel that works from any folder (`import vaeflow`, `load_model()`, `evaluate`, `vaeflow app`)."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from setuptools import find_packages

from vaeflow.models import PRETRAINED_DIR

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def _mapped_pretrained_packages() -> set[str]:
    """Package names of pretrained/ and its subfolders, as pyproject maps them."""
    (package, folder), = SETUPTOOLS["package-dir"].items()
    root = REPO / folder
    subfolders = [p for p in root.rglob("*") if p.is_dir() and p.name != "__pycache__"]
    return {package} | {package + "." + ".".join(p.relative_to(root).parts) for p in subfolders}


def test_the_package_list_names_every_package_of_the_source_tree():
    # The list is explicit (for the pretrained/ mapping); a new subpackage missing from it would
    # be left out of the wheel and only fail for users of the installed package.
    found = set(find_packages(str(REPO), include=["vaeflow", "vaeflow.*", "explorer", "explorer.*"]))
    assert set(SETUPTOOLS["packages"]) == found | _mapped_pretrained_packages()


def test_every_shipped_model_file_is_package_data():
    (package, folder), = SETUPTOOLS["package-dir"].items()
    root = REPO / folder
    patterns = SETUPTOOLS["package-data"]
    missing = []
    for path in root.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            owner = ".".join([package, *path.parent.relative_to(root).parts])
            if not any(fnmatch.fnmatch(path.name, p) for p in patterns.get(owner, [])):
                missing.append(str(path.relative_to(REPO)))
    assert missing == []


def test_the_source_checkout_reads_the_top_level_pretrained_folder():
    assert PRETRAINED_DIR == REPO / "pretrained"


def test_requirements_pins_lie_in_the_declared_ranges():
    # requirements.txt is the tested set; the ranges in pyproject.toml must admit it.
    declared = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    for extra in PYPROJECT["project"]["optional-dependencies"].values():
        declared += [Requirement(r) for r in extra]
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    runtime = {Requirement(r).name.lower() for r in PYPROJECT["project"]["dependencies"]}
    assert runtime <= set(pins), f"runtime dependencies without a pin: {runtime - set(pins)}"
    outside = {r.name: pins[r.name.lower()] for r in declared
               if r.name.lower() in pins and pins[r.name.lower()] not in r.specifier}
    assert outside == {}


# ------------------------------------------------------------------------------- the wheel itself

_IGNORED = shutil.ignore_patterns(".git", "data", "runs", "artifacts", "build", "dist", "*.egg-info",
                                  "__pycache__", ".pytest_cache", ".venv", ".ruff_cache")


def _run(command: list, cwd: Path, env: dict, timeout: float = 600) -> str:
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
def test_the_wheel_installs_and_runs_from_another_folder(tmp_path):
    from browser_util import free_port, wait_healthy
    from net_util import exposed, listen_addresses

    # The checkout's vaeflow must not leak in: no PYTHONPATH, and a working folder of its own.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VAEFLOW_HOME", "VAEFLOW_DATA_DIR",
                                                             "VAEFLOW_RUNS_DIR")}
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=_IGNORED)
    # Built with the setuptools already installed (no download); the venv reuses the installed
    # TensorFlow and Streamlit (--system-site-packages), but vaeflow itself comes from the wheel.
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist",
          source], cwd=tmp_path, env=env)
    wheel, = (tmp_path / "dist").glob("vaeflow-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"vaeflow/pretrained/weights.npz", "vaeflow/pretrained/features/weights.npz",
            "explorer/app.py", "explorer/views/explore.py"} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "pretrained/"))]

    venv.create(tmp_path / "venv", system_site_packages=True, with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    _run([bin_dir / "python", "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed",
          "--disable-pip-version-check", "-q", wheel], cwd=tmp_path, env=env)

    work = tmp_path / "work"
    work.mkdir()
    check = (
        "import json, vaeflow\n"
        "from vaeflow.models import PRETRAINED_DIR\n"
        "from vaeflow.metrics.features import FEATURES_DIR\n"
        "model = vaeflow.load_model()\n"
        "metrics = vaeflow.evaluate(model, vaeflow.generate_dataset(40, 0), iwae_k=0)\n"
        "print(json.dumps({'module': vaeflow.__file__, 'pretrained': str(PRETRAINED_DIR),\n"
        "                  'features': str(FEATURES_DIR), 'fid': metrics['fid']}))\n"
    )
    import json

    out = json.loads(_run([bin_dir / "python", "-c", check], cwd=work, env=env).strip().splitlines()[-1])
    site = tmp_path / "venv" / "lib"
    assert Path(out["module"]).is_relative_to(site), out
    assert Path(out["pretrained"]) == Path(out["module"]).parent / "pretrained"
    assert Path(out["features"]).is_relative_to(site)
    assert out["fid"] >= 0

    port = free_port()
    process = subprocess.Popen([bin_dir / "vaeflow", "app", "--port", str(port)], cwd=work, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, timeout_s=180)
        addresses = listen_addresses(port)
    finally:
        os.killpg(process.pid, 15)
        try:
            output = process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            output = process.communicate(timeout=30)[0]
    assert addresses and exposed(addresses) == [], addresses
    assert f"datasets in {work / 'data'}, runs in {work / 'runs'}" in output
    assert "I0000" not in output and "absl::InitializeLog" not in output, output
