"""A safe home: `rag mcp` started in $HOME (as desktop agents start it) indexes neither ~/.ssh nor anything outside
the data folder's docs/; hidden folders are indexed only when named on the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from rag.home import hidden_part, safe_home, unsafe_home
from rag.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_unsafe_homes_are_named(tmp_path):
    assert unsafe_home(Path("/")) == "the file system's root"
    assert unsafe_home(Path.home()) == "your home folder itself"
    assert unsafe_home(Path("/etc")) == unsafe_home(Path("/usr/share/doc")) == "a system folder"
    assert unsafe_home(Path("/home")) == "the folder of the users' homes"
    assert unsafe_home(tmp_path) is None and unsafe_home(Path.home() / "notes") is None


def test_a_server_without_rag_home_in_an_unsafe_folder_uses_the_data_folders_docs(tmp_path, capsys):
    settings = Settings(path=tmp_path / ".rag", home=Path.home())
    safe = safe_home(settings, environ={})
    assert safe.home == tmp_path / ".rag" / "docs" and safe.home.is_dir()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "is your home folder itself: the home is" in lines[0] and "RAG_HOME" in lines[0]
    assert safe_home(settings, environ={"RAG_HOME": str(Path.home())}).home == Path.home()  # the user chose it
    fine = Settings(path=tmp_path / ".rag", home=tmp_path)
    assert safe_home(fine, environ={}).home == tmp_path and not capsys.readouterr().err


def test_hidden_parts_are_found_below_the_home_only(tmp_path):
    assert hidden_part(tmp_path / ".ssh" / "id_rsa", tmp_path) == ".ssh"
    assert hidden_part(tmp_path / "docs" / ".config" / "a.md", tmp_path) == ".config"
    assert hidden_part(tmp_path / ".rag" / "docs" / "a.md", tmp_path / ".rag" / "docs") is None


async def _mcp_in(home: Path, calls: list[dict], errlog) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "rag.cli", "mcp"],
        cwd=str(home),
        env={**env, "HOME": str(home), "PYTHONPATH": str(REPO)},
    )
    out = []
    with anyio.fail_after(300):
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            for call in calls:
                got = await session.call_tool("index", call)
                out.append(got.content[0].text if got.is_error else json.dumps(got.structured_content))
    return out


def test_rag_mcp_started_in_home_refuses_ssh_and_hidden_folders_and_a_huge_path(tmp_path):
    home = tmp_path / "user"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519.txt").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n", encoding="utf-8")
    (home / "notes").mkdir()
    (home / "notes" / "a.md").write_text("# A\n\nA note.\n", encoding="utf-8")
    docs = home / ".rag" / "docs"
    (docs / ".secret").mkdir(parents=True)
    (docs / ".secret" / "s.md").write_text("# S\n\nSecret.\n", encoding="utf-8")
    calls = [
        {"path": "~/.ssh"},
        {"path": str(home / ".ssh" / "id_ed25519.txt")},
        {"path": str(home / "notes")},
        {"path": ".secret"},
        {"path": "x" * 5000},
    ]
    with open(home / "stderr.txt", "w", encoding="utf-8") as errlog:
        replies = anyio.run(_mcp_in, home, calls, errlog)
    ssh, key, notes, secret, huge = replies
    assert ssh.startswith("rag: ~/.ssh is outside the notebook's home") and key.startswith(f"rag: {home / '.ssh'}")
    assert "outside the notebook's home" in notes and str(docs) in notes
    assert secret.startswith("rag: .secret is in the hidden folder .secret")
    assert huge.startswith("rag: cannot use the path xxx") and "(5,000 characters)" in huge and "\n" not in huge
    stderr = (home / "stderr.txt").read_text(encoding="utf-8")
    assert f"the current folder {home} is your home folder itself: the home is {docs} instead" in stderr
    assert "Traceback" not in stderr


@pytest.mark.process
def test_the_command_line_indexes_a_hidden_folder_it_is_given_but_never_walks_into_one(tmp_path):
    (tmp_path / "docs" / ".private").mkdir(parents=True)
    (tmp_path / "docs" / "open.md").write_text("# Open\n\nOpen note.\n", encoding="utf-8")
    (tmp_path / "docs" / ".private" / "p.md").write_text("# P\n\nPrivate note.\n", encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RAG_")},
        "RAG_HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }

    def index(path: Path) -> dict:
        out = subprocess.run(
            [sys.executable, "-m", "rag.cli", "--path", str(tmp_path / ".rag"), "index", str(path), "--json"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    assert index(tmp_path / "docs")["added"] == 1  # the walk skips .private
    assert index(tmp_path / "docs" / ".private")["added"] == 1  # named by the user: indexed
