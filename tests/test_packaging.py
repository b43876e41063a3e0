"""Packaging: a regular (non-editable) install maps envs/, agents/, solvers/ to aligngames.*; the
README's test command is the one CI runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_non_editable_install_imports_every_subpackage(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-compile",
         "--target", str(target), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    code = (
        "import aligngames, aligngames.envs.preference_game, aligngames.agents.basic, aligngames.solvers\n"
        "from aligngames.datasets import preference_prompts\n"
        "import aligngames.envs.preference_game as game\n"
        "print(aligngames.__file__); print(game.__file__); print(len(preference_prompts()))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    core_file, game_file, num_prompts = result.stdout.split()
    assert core_file.startswith(str(target)) and game_file.startswith(str(target))
    assert int(num_prompts) >= 20  # the packaged data files came along


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_command = next(block for block in blocks if "pytest" in block)
    assert test_command.strip() in ci
