"""The docs: ``mkdocs build --strict`` passes, the README stays short, and every ```python and
```bash fence in README.md and docs/**/*.md runs.

A page's runnable fences run in document order in one subprocess (this file run as a script):
python fences share one namespace, bash fences run in ``bash -euo pipefail``. The working folder is
a temporary one holding copies of ``examples/`` and ``benchmarks/``, so whatever a snippet writes
(``runs/...``, benchmark results) stays out of the repository; the venv's ``aligngames`` is first on
PATH. A fence opts out only with a marker on the line before it that gives the reason::

    <!-- no-run: needs a GPU -->
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
RUNNABLE = ("python", "bash")
# every fence names its language; these are the ones a page may use (the others are shown, not run)
LANGUAGES = {*RUNNABLE, "yaml", "json", "text", "toml"}
MAX_NO_RUN = 8            # opt-outs stay rare: the README's setup commands, GPU / vLLM / cluster commands
README_MAX_BYTES = 12_000
PAGE_TIMEOUT_S = 600

_FENCE = re.compile(r"^(?P<indent> *)```(?P<language>[^\s`]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                    re.M | re.S)
_NO_RUN = re.compile(r"^\s*<!--\s*no-run:(?P<reason>.*?)-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, its code, and why it does not run (if so)."""

    page: str
    line: int
    language: str
    code: str
    no_run: str | None


def extract_blocks(path: Path) -> list[Block]:
    """The fenced blocks of one markdown file, in document order."""
    text = path.read_text()
    blocks = []
    for match in _FENCE.finditer(text):
        start = text.count("\n", 0, match.start())     # 0-based line of the opening fence
        previous = next((line for line in reversed(text.splitlines()[:start]) if line.strip()), "")
        marker = _NO_RUN.match(previous)
        indent = len(match["indent"])
        code = "".join(line[indent:] for line in match["body"].splitlines(keepends=True))
        blocks.append(Block(str(path.relative_to(ROOT)), start + 1, match["language"], code,
                            marker["reason"].strip() if marker else None))
    return blocks


def runnable(path: Path) -> list[Block]:
    return [block for block in extract_blocks(path) if block.language in RUNNABLE and block.no_run is None]


def test_every_fence_names_a_known_language():
    wrong = [f"{block.page}:{block.line} ```{block.language}" for page in PAGES for block in extract_blocks(page)
             if block.language not in LANGUAGES]
    assert not wrong, f"fences need one of the languages {sorted(LANGUAGES)}: {wrong}"


def test_no_run_markers_are_few_and_give_reasons():
    skipped = [block for page in PAGES for block in extract_blocks(page) if block.no_run is not None]
    print(f"{len(skipped)} fences do not run:", *(f"{b.page}:{b.line} ({b.no_run})" for b in skipped), sep="\n  ")
    assert all(block.no_run for block in skipped), "a no-run marker needs a reason: <!-- no-run: REASON -->"
    assert all(block.language in RUNNABLE for block in skipped), "only python / bash fences take no-run markers"
    assert len(skipped) <= MAX_NO_RUN, f"{len(skipped)} no-run fences (at most {MAX_NO_RUN}): make them run"


def test_readme_is_short():
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes (at most {README_MAX_BYTES}): move details to docs/"


def test_readme_links_point_at_files():
    # mkdocs checks the links between docs pages; the README's links (to docs/*.md) are checked here
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text())
    missing = [target for target in targets if "://" not in target and not (ROOT / target).exists()]
    assert targets and not missing, f"README.md links to missing files: {missing}"


def test_mkdocs_build_strict(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                             str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                            capture_output=True, text=True, cwd=ROOT, timeout=600,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "cli" / "index.html").exists()


@pytest.mark.slow
@pytest.mark.parametrize("page", [page for page in PAGES if runnable(page)], ids=lambda page: str(page.relative_to(ROOT)))
def test_snippets_run(page, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for folder in ("examples", "benchmarks"):
        shutil.copytree(ROOT / folder, work / folder, ignore=shutil.ignore_patterns("__pycache__"))
    blocks_file = tmp_path / "blocks.json"
    blocks_file.write_text(json.dumps([asdict(block) for block in runnable(page)]))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "MPLBACKEND": "Agg", "COLUMNS": "100"}
    result = subprocess.run([sys.executable, __file__, str(blocks_file)], capture_output=True, text=True, cwd=work,
                            env=env, timeout=PAGE_TIMEOUT_S)
    assert result.returncode == 0, f"a snippet of {page.name} failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"


def run_blocks(blocks: list[dict]) -> int:
    """Run one page's blocks in order (python in one namespace); report the first that fails."""
    namespace: dict = {"__name__": "__main__"}
    start = time.perf_counter()
    for block in blocks:
        where = f"{block['page']}:{block['line']}"
        print(f"--- {where} ({block['language']}), {time.perf_counter() - start:.1f} s in", flush=True)
        if block["language"] == "python":
            try:
                exec(compile(block["code"], where, "exec"), namespace)
            except Exception:
                traceback.print_exc()
                print(f"the python block at {where} failed", file=sys.stderr)
                return 1
        else:
            completed = subprocess.run(["bash", "-euo", "pipefail", "-c", block["code"]])
            if completed.returncode != 0:
                print(f"the bash block at {where} exited with {completed.returncode}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_blocks(json.loads(Path(sys.argv[1]).read_text())))
