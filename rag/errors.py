"""The errors a user sees: each one's str() is the one-line message the CLI and the UI show as it is; and notices."""

from __future__ import annotations

import sys


def notice(line: str) -> None:
    """Tell the user in one line on stderr about something the notebook worked around (a damaged keyword index
    rebuilt, a read-only folder searched from a copy): the work goes on."""
    print(f"rag: notice: {' '.join(line.split())}", file=sys.stderr, flush=True)


class NotebookError(Exception):
    """Base of the errors meant for users; str() is the whole message, one line, no traceback needed."""


class SettingsError(NotebookError, ValueError):
    """A setting with a wrong value, an unknown setting name, or an unknown RAG_* environment variable."""


class BackendUnavailable(NotebookError, RuntimeError):
    """The chosen answer backend cannot run here (package not installed, model file missing)."""
