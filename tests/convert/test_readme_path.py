"""Done-when d: the README's offline convert -> encode path runs as written, in an empty folder, offline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"
SECTION = "## Use the authors' released models"


def offline_commands() -> list[str]:
    section = README.read_text(encoding="utf8").split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    offline = [block for block in blocks if "plume-st tiny-official" in block]
    assert len(offline) == 1, blocks
    return [line for line in offline[0].splitlines() if line.strip()]


def test_readme_offline_path_runs(tmp_path):
    commands = offline_commands()
    programs = [command.split()[:2] for command in commands]
    assert programs == [["plume-st", "tiny-official"], ["plume-st", "convert"], ["python", "-c"]]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # the plume-st entry point beside python
    outputs = []
    for command in commands:
        result = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert result.returncode == 0, (command, result.stderr[-3000:])
        outputs.append(result.stdout.strip().splitlines()[-1])
    assert outputs == ["official-tiny", "plume-tiny", "(2, 64)"]
    source = tmp_path / "official-tiny"
    assert (source / "vocab.json").exists() and not (source / "tokenizer.json").exists()  # the authors' layout
