"""Storage trouble on real folders: a read-only data folder and a full disk are searched, writes fail in one line.

Root ignores chmod, so as root the read-only folder is a read-only bind mount and the full disk a small tmpfs, each
in a private mount namespace (`unshare -rm`); where that is not allowed the test is skipped with the reason.
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag import Notebook
from rag.errors import NotebookError
from rag.index.storage import storage_trouble
from rag.index.store import ChunkStore

REPO = Path(__file__).resolve().parents[3]
DOC = "# Ironwood\n\nIronwood 是 Google 第七代 TPU 晶片,專為推論設計。\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A home with docs/ironwood.md indexed into home/.rag."""
    home = tmp_path_factory.mktemp("storage")
    (home / "docs").mkdir()
    (home / "docs" / "ironwood.md").write_text(DOC, encoding="utf-8")
    Notebook(path=home / ".rag", home=home).index(home / "docs", progress=False)
    return home


def copy_of(built: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(built, home)
    (home / "docs" / "new.md").write_text("# DRAM\n\nDRAM prices follow a cycle.\n", encoding="utf-8")
    return home


def rag_commands(home: Path, data: Path) -> str:
    """Shell lines: `rag search`, `rag ask` and `rag index` on the notebook, each reported as one JSON line."""
    report = (
        "import json, subprocess, sys; out = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(json.dumps({'rc': out.returncode, 'out': out.stdout, 'err': out.stderr}))"
    )
    rag = [sys.executable, "-m", "rag.cli", "--path", str(data)]
    lines = [
        [sys.executable, "-c", report, *rag, "search", "Ironwood TPU", "--json"],
        [sys.executable, "-c", report, *rag, "ask", "Ironwood 是什麼晶片?", "--json"],
        [sys.executable, "-c", report, *rag, "index", str(home / "docs"), "--json"],
    ]
    return "\n".join(shlex.join(line) for line in lines)


def run_in_namespace(setup: str, commands: str) -> list[dict]:
    """Run `setup` (mounts) then `commands` as root of a private user and mount namespace; skip where not allowed."""
    if shutil.which("unshare") is None:
        pytest.skip("running as root, where chmod does not stop writes, and `unshare` is not installed")
    probe = subprocess.run(["unshare", "-rm", "true"], check=False, capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(
            f"running as root, where chmod does not stop writes, and `unshare -rm` is refused: {probe.stderr.strip()}"
        )
    out = subprocess.run(
        ["unshare", "-rm", "sh", "-ec", f"{setup}\n{commands}"],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def run_plain(commands: str) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        ["sh", "-ec", commands], check=False, capture_output=True, text=True, cwd=REPO, env=env, timeout=600
    )
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def assert_searched_and_refused(search: dict, ask: dict, index: dict, data: Path, trouble: str) -> None:
    assert search["rc"] == 0, search["err"]
    assert json.loads(search["out"])["hits"][0]["source"] == "docs/ironwood.md"
    assert search["err"].strip().splitlines() == [search["err"].strip()]  # one notice line, no traceback
    assert search["err"].startswith(f"rag: notice: {data}: ") and trouble in search["err"]
    assert ask["rc"] == 0 and ask["err"] == search["err"], ask["err"]
    assert json.loads(ask["out"])["answer"]  # answered or plainly refused: the answer model decides, not storage
    assert index["rc"] == 2 and "Traceback" not in index["err"]
    error = index["err"].strip().splitlines()[-1]
    assert error.startswith(f"rag: {data}: ") and trouble in error and "nothing can be indexed" in error


@pytest.mark.process
def test_a_read_only_data_folder_is_searched_and_indexing_it_is_one_line(built, tmp_path):
    home = copy_of(built, tmp_path)
    data = home / ".rag"
    subprocess.run(["chmod", "-R", "a-w", str(data)], check=True)
    try:
        commands = rag_commands(home, data)
        if os.geteuid() == 0:
            results = run_in_namespace(
                f"mount --bind -o ro {shlex.quote(str(data))} {shlex.quote(str(data))}", commands
            )
        else:
            results = run_plain(commands)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(data)], check=True)
    search, ask, index = results
    assert_searched_and_refused(search, ask, index, data, "read-only" if os.geteuid() == 0 else "read")
    assert Notebook(path=data, home=home).sources()[0]["source"] == "docs/ironwood.md"  # nothing was lost


@pytest.mark.process
def test_a_full_disk_is_searched_and_indexing_on_it_is_one_line(built, tmp_path):
    if os.geteuid() != 0 and shutil.which("unshare") is None:
        pytest.skip("a real full disk needs a small tmpfs in a private mount namespace (`unshare`)")
    home = copy_of(built, tmp_path)
    disk = tmp_path / "disk"
    disk.mkdir()
    data = disk / ".rag"
    size_mb = sum(f.stat().st_size for f in (home / ".rag").rglob("*") if f.is_file()) // 2**20 + 4
    setup = "\n".join(
        [
            f"mount -t tmpfs -o size={size_mb}m tmpfs {shlex.quote(str(disk))}",
            f"cp -a {shlex.quote(str(home / '.rag'))} {shlex.quote(str(data))}",
            f"dd if=/dev/zero of={shlex.quote(str(disk / 'fill'))} bs=1M count={size_mb} 2>/dev/null || true",
        ]
    )
    search, ask, index = run_in_namespace(setup, rag_commands(home, data))
    assert_searched_and_refused(search, ask, index, data, "no space left on the device")


def test_a_disk_that_fills_during_indexing_stops_the_run_in_one_line_and_keeps_what_was_indexed(
    built, tmp_path, monkeypatch
):
    home = copy_of(built, tmp_path)
    nb = Notebook(path=home / ".rag", home=home)
    before = set(nb.chunk_ids())

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ChunkStore, "upsert", full)
    with pytest.raises(NotebookError) as err:
        nb.index(home / "docs", progress=False)
    message = str(err.value)
    assert message.startswith(f"{home / '.rag'}: no space left on the device") and "\n" not in message
    assert set(nb.chunk_ids()) == before
    monkeypatch.undo()
    assert nb.index(home / "docs", progress=False).added == 1  # once there is room, the run goes on


@pytest.mark.process
def test_a_real_disk_that_fills_while_indexing_is_one_line_and_search_still_works(tmp_path):
    """A 2 MB tmpfs: the first file fits, the next 39 do not. Chroma's failure names no cause ("Error in compaction:
    Failed to apply logs to the metadata segment") and leaves records that the next read would apply and fail on."""
    if os.geteuid() != 0 and shutil.which("unshare") is None:
        pytest.skip("a real full disk needs a small tmpfs in a private mount namespace (`unshare`)")
    home, disk = tmp_path / "home", tmp_path / "disk"
    (home / "docs").mkdir(parents=True)
    disk.mkdir()
    words = ["alpha", "beta", "gamma", "delta", "tide", "pool", "reef", "star", "chip", "memory", "HBM", "TPU"]
    for i in range(40):
        paragraphs = [" ".join(words[(i * 7 + p * 3 + w * w) % len(words)] for w in range(80)) for p in range(30)]
        (home / "docs" / f"d{i:02}.md").write_text(f"# Doc {i}\n\n" + "\n\n".join(paragraphs), encoding="utf-8")
    data = disk / ".rag"
    report = (
        "import json, subprocess, sys; out = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(json.dumps({'rc': out.returncode, 'out': out.stdout, 'err': out.stderr}))"
    )
    rag = [sys.executable, "-c", report, sys.executable, "-m", "rag.cli", "--path", str(data)]
    lines = [
        [*rag, "index", str(home / "docs" / "d00.md"), "--json"],
        [*rag, "index", str(home / "docs"), "--json"],
        [*rag, "search", "tide pool", "--json"],
    ]
    setup = f"mount -t tmpfs -o size=2m tmpfs {shlex.quote(str(disk))}\nexport RAG_HOME={shlex.quote(str(home))}"
    first, full, search = run_in_namespace(setup, "\n".join(shlex.join(line) for line in lines))
    assert first["rc"] == 0, first["err"]
    assert full["rc"] == 2 and "Traceback" not in full["err"] and "unexpected" not in full["err"]
    error = full["err"].strip().splitlines()[-1]
    assert error.startswith(f"rag: {data}: no space left on the device") and "what was indexed before stays" in error
    assert search["rc"] == 0, search["err"]
    assert json.loads(search["out"])["hits"], search["err"]
    assert (
        search["err"].startswith(f"rag: notice: {data}: no space left on the device")
        and "temporary copy" in search["err"]
    )


def test_storage_trouble_knows_chromas_words_and_os_errors():
    assert storage_trouble(OSError(errno.ENOSPC, "No space left on device")) == "no space left on the device"
    assert storage_trouble(RuntimeError("error returned from database: (code: 13) database or disk is full"))
    assert "read-only" in storage_trouble(RuntimeError("(code: 8) attempt to write a readonly database"))
    try:
        try:
            raise OSError(errno.EROFS, "Read-only file system")
        except OSError as cause:
            raise RuntimeError("wrapped") from cause
    except RuntimeError as err:
        assert storage_trouble(err) == "read-only file system"
    assert storage_trouble(ValueError("bad input")) is None
