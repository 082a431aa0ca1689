"""The README tells the truth: its Python snippet and every `rag` command of its Shell section run, against a tiny
notebook, in fresh processes as a reader would run them."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
# Commands that serve or watch until stopped: their start is tested in tests/rag (test_cli_signals, test_mcp,
# test_watch); here they would never return.
LONG_RUNNING = ("rag serve", "rag mcp", "rag index --watch")
TINY = {
    "tpu.md": "# TPU 與 GPU\n\n谷歌的TPU是專為矩陣運算設計的晶片，Gemini就是在TPU叢集上訓練的。TPU不能完全取代GPU。\n",
    "cpu.md": "# 機房\n\n亞馬遜機房裡最多的CPU是自家的Graviton。\n",
}


def section(title: str) -> str:
    """The README's `## title` section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.MULTILINE | re.DOTALL)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def shell_commands() -> list[str]:
    """Each `rag ...` line of the Shell section as typed: comments and [optional] parts left out."""
    commands = []
    for block in fenced(section("Shell"), "bash"):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if not line.startswith("rag ") or line.startswith(LONG_RUNNING):
                continue
            while re.search(r"\[[^\[\]]*\]", line):
                line = re.sub(r"\s*\[[^\[\]]*\]", "", line)  # [--json], [PATH ...], nested [--http [--port N]]
            commands.append(line)
    return commands


@pytest.fixture(scope="module")
def tiny_home(tmp_path_factory) -> Path:
    """A folder as a reader's: seeds/ with two tiny documents, and the question file the README names."""
    home = tmp_path_factory.mktemp("readme")
    (home / "seeds").mkdir()
    for name, text in TINY.items():
        (home / "seeds" / name).write_text(text, encoding="utf-8")
    (home / "tests" / "data").mkdir(parents=True)
    shutil.copy(REPO / "tests" / "data" / "dev.jsonl", home / "tests" / "data" / "dev.jsonl")
    return home


def run(command: list[str], home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(PYTHONPATH=str(REPO), RAG_SEEDS=str(home / "seeds"))
    return subprocess.run(command, cwd=home, env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.process
def test_the_python_snippet_runs_as_written(tiny_home):
    snippets = fenced(section("Python"), "python")
    assert len(snippets) == 1
    done = run([sys.executable, "-c", snippets[0]], tiny_home)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "TPU" in done.stdout


@pytest.mark.process
def test_every_rag_command_of_the_shell_section_runs(tiny_home):
    commands = shell_commands()
    assert {c.split()[1] for c in commands} >= {"index", "search", "ask", "guide", "status", "settings", "eval"}
    rag = str(Path(sys.executable).with_name("rag"))
    for command in sorted(commands, key=lambda c: not c.startswith("rag index")):  # indexed first
        done = run([rag, *shlex.split(command)[1:]], tiny_home)
        assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr, command


def test_the_shell_section_lists_every_subcommand():
    from rag.cli import build_parser

    subcommands = set(build_parser()._subparsers._group_actions[0].choices)
    shown = {
        line.split()[1]
        for block in fenced(section("Shell"), "bash")
        for line in block.splitlines()
        if line.startswith("rag ")
    }
    assert subcommands <= shown, subcommands - shown
