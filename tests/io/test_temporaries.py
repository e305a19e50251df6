"""A folder published atomically says whether its writer lives until the moment it is renamed."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from fixtures import REPO

from tensorboard_plugin_w2v.io import fileio, temporaries

# A writer that publishes a folder and is killed while it flushes the folder's files.
KILLED_WHILE_FLUSHING = r"""
import os, sys, time
from tensorboard_plugin_w2v.io import fileio
def slow_settle(path, mode):
    print(os.path.dirname(path), flush=True)
    time.sleep(600)
fileio._settle = slow_settle
with fileio.published_folder(sys.argv[1], os.path.join(sys.argv[1], "data.bin")) as tmp:
    with open(os.path.join(tmp, "data.bin"), "wb") as f:
        f.write(b"x" * 1000)
"""


def test_a_writer_killed_while_flushing_leaves_a_folder_the_next_sweep_removes(tmp_path):
    final = str(tmp_path / "cache" / "entry")
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WHILE_FLUSHING, final], stdout=subprocess.PIPE, text=True, env=env)
    try:
        tmp = writer.stdout.readline().strip()
        assert os.path.basename(tmp).startswith(temporaries.PREFIX)
        later = time.time() + temporaries.MIN_AGE_SECONDS + 1
        assert not temporaries.abandoned(tmp, now=later)  # its writer flushes: kept
    finally:
        writer.kill()
        writer.wait()
    assert temporaries.abandoned(tmp, now=later)  # killed: known at once, not in six hours
    time.sleep(max(0.0, later - time.time()))
    assert temporaries.sweep_folder(os.path.dirname(tmp)) == [tmp]
    assert not os.path.exists(final)


def test_a_published_folder_has_no_lock_file_left(tmp_path):
    final = str(tmp_path / "entry")
    with fileio.published_folder(final, os.path.join(final, "a.txt")) as tmp:
        with open(os.path.join(tmp, "a.txt"), "w") as f:
            f.write("complete")
    assert sorted(os.listdir(final)) == ["a.txt"]
    assert temporaries.sweep_folder(str(tmp_path)) == []


def test_a_sweep_that_fails_midway_keeps_the_writer_file_for_the_next_sweep(tmp_path):
    """The writer file goes last: a folder a sweep could only partly remove (here a file it may
    not delete, as a sweep killed midway leaves it) is still known to be abandoned."""
    parent = str(tmp_path / "models")
    with temporaries.claimed_folder(parent) as tmp:
        for i in range(20):
            with open(os.path.join(tmp, f"part{i}.npy"), "wb") as f:
                f.write(b"x" * 100)
    old = time.time() - 10 * temporaries.MIN_AGE_SECONDS
    os.utime(os.path.join(tmp, temporaries.WRITER_NAME), (old, old))
    order = os.listdir(tmp)  # the order a removal meets them: the last file is the one it cannot remove
    stuck = os.path.join(tmp, next(n for n in reversed(order) if n != temporaries.WRITER_NAME))
    if subprocess.run(["chattr", "+i", stuck], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (needs root and a file system that has it)")
    try:
        assert temporaries.sweep_folder(parent) == []  # the immutable file stopped it
        assert os.path.exists(os.path.join(tmp, temporaries.WRITER_NAME))
        assert temporaries.abandoned(tmp)
    finally:
        subprocess.run(["chattr", "-i", stuck], check=True)
    assert temporaries.sweep_folder(parent) == [tmp]
    assert os.listdir(parent) == []


# A writer that claims a folder and is killed a moment later.
CLAIMS_AND_WAITS = r"""
import sys, time
from tensorboard_plugin_w2v.io import temporaries
with temporaries.claimed_folder(sys.argv[1]) as tmp:
    print(tmp, flush=True)
    time.sleep(600)
"""


def test_a_folder_whose_writer_died_a_moment_after_claiming_it_is_abandoned_at_once(tmp_path):
    """Its lock file was locked before it had its name, so a young one nobody holds is no writer
    between creating and locking it: the next sweep, however soon, removes the folder (a
    ``log_model`` started right after a killed one used to leave it behind)."""
    parent = str(tmp_path / "models")
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    writer = subprocess.Popen([sys.executable, "-c", CLAIMS_AND_WAITS, parent], stdout=subprocess.PIPE, text=True, env=env)
    try:
        tmp = writer.stdout.readline().strip()
        assert os.listdir(tmp) == [temporaries.WRITER_NAME]
        assert not temporaries.abandoned(tmp)  # alive
    finally:
        writer.kill()
        writer.wait()
    assert temporaries.sweep_folder(parent) == [tmp]
    assert os.listdir(parent) == []


def test_a_folder_left_before_its_lock_file_was_named_is_removed_after_a_moment(tmp_path):
    parent = tmp_path / "models"
    tmp = parent / f"{temporaries.PREFIX}abc"
    tmp.mkdir(parents=True)
    (tmp / f"{temporaries.WRITER_PREFIX}x1y2").write_bytes(b"")
    assert temporaries.unclaimed(str(tmp))
    assert not temporaries.abandoned(str(tmp))  # its writer may be naming it right now
    assert temporaries.abandoned(str(tmp), now=time.time() + temporaries.MIN_AGE_SECONDS + 1)
    (tmp / "part.npy").write_bytes(b"x")  # more than that: an older version's, judged by age
    assert not temporaries.unclaimed(str(tmp))
    assert not temporaries.abandoned(str(tmp), now=time.time() + temporaries.MIN_AGE_SECONDS + 1)
