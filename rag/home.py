"""Where the servers may read: a home that is not $HOME itself, `/` or a system folder, and never a hidden folder unasked."""

from __future__ import annotations

import os
from pathlib import Path

from rag.errors import NotebookError, notice
from rag.settings import Settings, env_name

# Folders whose whole tree belongs to the system: a notebook's home is never one of them nor inside one.
SYSTEM_TREES = tuple(
    Path(p)
    for p in (
        "/etc",
        "/usr",
        "/bin",
        "/sbin",
        "/lib",
        "/lib32",
        "/lib64",
        "/boot",
        "/dev",
        "/proc",
        "/sys",
        "/run",
        "/var",
        "/snap",
        "/System",
        "/Library",
        "/Applications",
        "/private/etc",
    )
)
# Folders that hold users' homes: the folder itself is no home (its members are).
HOMES_FOLDERS = (Path("/home"), Path("/Users"))


def unsafe_home(home: Path) -> str | None:
    """Why `home` is no place to index from when the user did not choose it (None when it is fine): `/`, a
    user's whole home folder (its .ssh, .aws, mail...), or a system folder."""
    home = Path(os.path.realpath(home))
    user_home = Path(os.path.realpath(Path.home()))
    if home == Path(home.anchor):
        return "the file system's root"
    if home == user_home:
        return "your home folder itself"
    if home in HOMES_FOLDERS:
        return "the folder of the users' homes"
    if any(home == tree or home.is_relative_to(tree) for tree in SYSTEM_TREES):
        return "a system folder"
    return None


def safe_home(settings: Settings, environ: dict[str, str] | None = None) -> Settings:
    """The settings a server (`rag serve`, `rag mcp`) runs with: when RAG_HOME is not set and the home (the
    current folder) is unsafe, the data folder's docs/ instead, said in one line."""
    environ = os.environ if environ is None else environ
    if environ.get(env_name("home")):
        return settings
    why = unsafe_home(settings.home)
    if why is None:
        return settings
    docs = Path(os.path.abspath(settings.path)) / "docs"
    try:
        docs.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NotebookError(
            f"the current folder {settings.home} is {why}, and {docs} cannot be made instead ({err.strerror}): "
            "set RAG_HOME to the folder of your documents"
        ) from err
    notice(
        f"the current folder {settings.home} is {why}: the home is {docs} instead (indexing and uploads only there); "
        "set RAG_HOME to the folder of your documents"
    )
    return settings.updated(home=docs)


def hidden_part(path: Path, home: Path) -> str | None:
    """The first hidden folder or file (.ssh, .config ...) on the way from `home` to `path`, None when none is."""
    try:
        parts = Path(path).relative_to(home).parts
    except ValueError:
        parts = Path(path).parts
    return next((part for part in parts if part.startswith(".") and part not in (".", "..")), None)
