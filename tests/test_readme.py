"""Every fenced ``python`` block of README.md runs as written, in a folder holding the demo logdir."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def readme_blocks() -> list[str]:
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        return BLOCK.findall(f.read())


def test_the_readme_has_python_blocks():
    assert len(readme_blocks()) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("number", range(len(readme_blocks())))
def test_readme_block_runs_as_written(number, demo_logdir, tmp_path, request):
    """One block in a fresh interpreter (as a reader pastes it), ``logs`` being the demo logdir
    (and ``MILVUS_URI`` a real Milvus server, for the blocks that push to one)."""
    pytest.importorskip("keras")
    block = readme_blocks()[number]
    shutil.copytree(demo_logdir, tmp_path / "logs")
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2")
    if "MILVUS_URI" in block:
        env["MILVUS_URI"] = request.getfixturevalue("milvus").uri
    done = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"README block {number + 1} failed:\n{block}\n{done.stderr[-3000:]}"
    # What a block prints is what its comments say.
    for expected in re.findall(r"^print\(.*\)\s+# (\d[\d.]*|pushed)", block, re.M):
        assert expected in done.stdout.split(), (expected, done.stdout)
