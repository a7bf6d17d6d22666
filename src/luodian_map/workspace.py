"""A new working folder for a town: ``luodian-map init``.

The folder is laid out as the commands expect it when run from there (see
:mod:`luodian_map.settings`): ``geodata/reports/`` for the reports, a note on
``geodata/overrides.geojson`` (a planner's own locations), ``checks.toml`` (the packaged
thresholds, to edit) and a ``README.txt`` in Chinese saying what to do next. The town's
gazetteer is not copied: the package ships it, and a ``geodata/<folder>/`` made later (by
``places fetch`` or ``places import``) replaces it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from . import settings
from ._io import write_atomic
from .errors import InputError

_README = """\
{town} 工作目录（luodian-map init 生成）

下一步：
1. 把{town}的政府工作报告（.txt、.docx 或带文字层的 .pdf）放进 geodata/reports/。
2. 在本目录运行：luodian-map build
   图层写到 layers/，地图写到 maps/（luodian.html 规划用，public.html 可公开）。
3. 位置不对或缺位置：在地图上画出真实位置后点“导出”，把 overrides.geojson 放到
   geodata/overrides.geojson，再运行 luodian-map build（见 geodata/overrides说明.txt）。
4. 检查阈值：修改 checks.toml，build 和 check 会自动读取本目录的 checks.toml。
5. 真实位置：luodian-map places fetch --source osm 或 luodian-map places import 文件，
   结果写进 geodata/{folder}/sources/（随安装包附带的{town}数据先复制到那里，之后以本目录为准）。

地名库（gazetteer）：{gazetteer}
"""

_OVERRIDES_NOTE = """\
geodata/overrides.geojson：规划人员自己的位置（可选，没有这个文件也能运行）。

- 在 maps/luodian.html 中画出真实位置后点“导出”，得到 overrides.geojson，放到本文件夹。
- 也可用 GeoPackage、Shapefile、CSV：luodian-map build --overrides 文件 [--overrides-crs gcj02]。
- 每个要素需要 id（条目编号）或 name（报告中的名称）字段；坐标默认 WGS-84。
"""


def init_workspace(directory: str | Path, town: str | None = None) -> list[Path]:
    """Create a working folder for ``town`` (default: the only town known) in ``directory``.

    Returns the files written. Nothing is written when any of them exists already.

    Raises
    ------
    InputError
        When a file would be overwritten, or the town is not known (neither packaged nor
        under ``directory/geodata/``), or several are and none is named.
    """
    from .gazetteer import town_gazetteers

    root = Path(directory)
    towns = town_gazetteers(root / settings.GEODATA)
    known = ", ".join(sorted(towns)) or "none"
    if town is None:
        if len(towns) != 1:
            raise InputError(f"name the town with --town (known: {known})")
        town = next(iter(towns))
    if town not in towns:
        raise InputError(f"no gazetteer for {town} (known: {known})")
    gazetteer = towns[town]
    config = resources.files("luodian_map").joinpath("data", "checks.toml").read_text("utf-8")
    files = {
        root / settings.CONFIG: config,
        root / settings.GEODATA / "overrides说明.txt": _OVERRIDES_NOTE,
        root / "README.txt": _README.format(
            town=town, folder=gazetteer.parent.name, gazetteer=gazetteer
        ),
    }
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise InputError(f"{', '.join(existing)}: exists already; init overwrites nothing")
    (root / settings.REPORTS).mkdir(parents=True, exist_ok=True)
    return [write_atomic(path, text) for path, text in files.items()]
