"""The errors a user sees: each one's str() is the one-line message the CLI and the UI show as it is."""

from __future__ import annotations


class NotebookError(Exception):
    """Base of the errors meant for users; str() is the whole message, one line, no traceback needed."""


class SettingsError(NotebookError, ValueError):
    """A setting with a wrong value, an unknown setting name, or an unknown RAG_* environment variable."""


class BackendUnavailable(NotebookError, RuntimeError):
    """The chosen answer backend cannot run here (package not installed, model file missing)."""
