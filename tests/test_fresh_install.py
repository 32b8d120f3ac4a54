"""A base install works: the command line needs no extra (``serve``, ``mteb``), a command whose extra is missing says
which extra and how to install it, and CI runs the README's set-up commands verbatim (issue 17, done-when a, b)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = ("fastapi", "ray", "mteb")
# An interpreter in which the extras' packages cannot be imported, as after `pip install -e .` without extras.
WITHOUT_EXTRAS = f"""
import sys

class BlockExtras:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, BlockExtras())
"""
RUN_CLI = WITHOUT_EXTRAS + "sys.argv[0] = 'plume-st'\nfrom plume_st.cli import app\napp()\n"


def plume_st_without_extras(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", RUN_CLI, *arguments], capture_output=True, text=True, timeout=300, cwd=ROOT
    )


def test_base_commands_run_without_the_extras(tmp_path):
    listing = plume_st_without_extras("--help")
    assert listing.returncode == 0, listing.stderr
    for command in ("demo", "tiny-backbone", "build", "train", "eval", "serve", "embed-corpus", "convert", "inspect"):
        assert re.search(rf"^│ {command}\s", listing.stdout, re.MULTILINE), command
    demo_help = plume_st_without_extras("demo", "--help")
    assert demo_help.returncode == 0, demo_help.stderr
    assert "--max-steps" in demo_help.stdout
    backbone = plume_st_without_extras("tiny-backbone", str(tmp_path / "backbone"))
    assert backbone.returncode == 0, backbone.stderr
    assert (tmp_path / "backbone" / "config.json").is_file()


@pytest.mark.parametrize(
    "arguments", [("serve", "some-model"), ("embed-corpus", "some-model", "README.md", "--out", "embeddings")]
)
def test_a_command_without_its_extra_names_it(arguments):
    result = plume_st_without_extras(*arguments)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"plume-st {arguments[0]} needs the 'serve' extra" in lines[0]
    assert 'pip install -e ".[serve]"' in lines[0] and 'pip install "plume-st[serve]"' in lines[0]


def test_mteb_module_without_its_extra_names_it():
    code = WITHOUT_EXTRAS + (
        "try:\n    import plume_st.mteb\nexcept ImportError as error:\n    print(type(error).__name__, error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("MissingExtraError plume_st.mteb needs the 'mteb' extra (mteb cannot be imported)")
    assert 'pip install -e ".[mteb]"' in result.stdout


def test_the_command_line_imports_no_extra_and_no_torch():
    """``plume-st --help`` starts in about the time of ``import plume_st``: no extra, torch or model code is imported
    (here the extras are installed, so this is what the import costs, not what it cannot do)."""
    code = (
        "import sys\nimport plume_st.cli\n"
        "print(sorted({name.partition('.')[0] for name in sys.modules} & "
        "{'fastapi', 'ray', 'mteb', 'torch', 'transformers', 'sentence_transformers'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def readme_commands() -> list[str]:
    """The command lines of the README's "Set up" section, in order."""
    section = (ROOT / "README.md").read_text().split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line and not line.startswith("#")]


def test_ci_runs_the_readme_commands_verbatim():
    commands = readme_commands()
    assert commands[0] == "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && plume-st demo"
    assert len(commands) == 2 and 'pip install -e ".[dev]"' in commands[1]
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    for command in commands:
        assert any(line.strip() == command for line in script), command


def test_readme_command_table_lists_every_command():
    from plume_st.cli import app

    registered = {command.name for command in app.registered_commands}
    table = (ROOT / "README.md").read_text().split("## Command line", 1)[1].split("\n#", 1)[0]
    listed = set(re.findall(r"^\| `plume-st ([a-z-]+)", table, re.MULTILINE))
    assert registered == listed
