"""The package works wherever it is installed, and ``luodian-map init`` starts a project.

The wheel test builds the wheel from a clean copy of the source (no stale ``build/``),
installs it without dependencies into a folder outside the checkout and runs the main job
from an empty folder with only that folder on the path: the layers must equal, byte for
byte, those the checkout builds from the same report.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from clirun import run_cli
from luodian_map.gazetteer import GEODATA_DIR, PACKAGED_TOWNS, town_gazetteers

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "geodata" / "reports" / "luodian_2024_work_report.txt"


def run(*args: str, cwd: Path, path: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in ``cwd`` with only ``path`` (and the environment's packages) importable."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(path), "HOME": str(cwd)}
    return run_cli(*args, cwd=cwd, env=env)


def located(stderr: str) -> int:
    found = re.search(r"\((\d+) located", stderr)
    assert found, stderr
    return int(found.group(1))


def layers(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, installed (no dependencies) into a folder outside the checkout."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", source / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(tmp / "dist"), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp / "dist").glob("luodian_map-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "luodian_map/data/towns/luodian/gazetteer.geojson" in names
    # every data file of the package (templates, vocabulary, UI strings, towns) ships
    package = ROOT / "src" / "luodian_map"
    data = {
        f"luodian_map/{p.relative_to(package).as_posix()}"
        for p in package.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    assert sorted(data - set(names)) == []
    target = tmp / "site"
    done = subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return target


def test_the_wheel_builds_the_checkout_layers_in_an_empty_folder(installed, tmp_path) -> None:
    for name, path in (("wheel", installed), ("checkout", ROOT / "src")):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy2(REPORT, folder / REPORT.name)
        result = run("build", REPORT.name, "--no-maps", cwd=folder, path=path)
        assert result.returncode == 0, result.stderr
        assert "no gazetteer" not in result.stderr
        assert located(result.stderr) > 0
    probe = subprocess.run(
        [sys.executable, "-c", "import luodian_map; print(luodian_map.__file__)"],
        cwd=tmp_path, env={"PYTHONPATH": str(installed)}, capture_output=True, text=True,
    )  # fmt: skip
    assert probe.stdout.startswith(str(installed)), probe.stdout + probe.stderr
    assert layers(tmp_path / "wheel" / "layers") == layers(tmp_path / "checkout" / "layers")


def test_a_town_under_the_working_geodata_replaces_the_packaged_one(tmp_path) -> None:
    assert town_gazetteers(tmp_path / "geodata") == {"罗店镇": GEODATA_DIR / "gazetteer.geojson"}
    assert GEODATA_DIR.parent == PACKAGED_TOWNS
    own = tmp_path / "geodata" / "mine"
    shutil.copytree(GEODATA_DIR, own)
    assert town_gazetteers(tmp_path / "geodata") == {"罗店镇": own / "gazetteer.geojson"}


def test_init_makes_a_folder_that_builds_and_overwrites_nothing(tmp_path) -> None:
    folder = tmp_path / "罗店"
    made = run("init", str(folder), cwd=tmp_path, path=ROOT / "src")
    assert made.returncode == 0, made.stderr
    assert (folder / "geodata" / "reports").is_dir()
    assert "罗店镇" in (folder / "README.txt").read_text("utf-8")
    shutil.copy2(REPORT, folder / "geodata" / "reports" / REPORT.name)
    built = run("build", "--no-maps", cwd=folder, path=ROOT / "src")
    assert built.returncode == 0, built.stderr
    assert located(built.stderr) > 0
    checked = run("check", cwd=folder, path=ROOT / "src")
    assert checked.returncode == 0, checked.stderr
    # the copied checks.toml is the one the checks read: a typo in it fails them
    config = folder / "checks.toml"
    config.write_text(config.read_text("utf-8") + "\nno_such_key = 1\n", encoding="utf-8")
    broken = run("check", cwd=folder, path=ROOT / "src")
    assert broken.returncode == 2 and "no_such_key" in broken.stderr, broken.stderr
    # a second init writes nothing, not even the files that do not exist yet
    (folder / "README.txt").unlink()
    again = run("init", str(folder), cwd=tmp_path, path=ROOT / "src")
    assert again.returncode == 2 and "exists already" in again.stderr
    assert not (folder / "README.txt").exists()
    unknown = run("init", str(tmp_path / "x"), "--town", "罗泾镇", cwd=tmp_path, path=ROOT / "src")
    assert unknown.returncode == 2 and "罗泾镇" in unknown.stderr
    assert not (tmp_path / "x").exists()
