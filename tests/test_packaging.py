"""Every package of the source tree is in pyproject's explicit ``packages`` list, so a wheel carries all of them."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "plume_st").rglob("__init__.py")} | {
        "plume_st.modules"
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - on_disk == set(), "these listed packages do not exist"
    assert config["package-dir"]["plume_st.modules"] == "modules" and (ROOT / "modules" / "__init__.py").exists()
