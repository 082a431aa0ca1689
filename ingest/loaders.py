"""Read files into Documents: .txt/.md decoded here (UTF-8, GB18030, Big5, Shift-JIS, EUC-JP, EUC-KR; front matter),
other formats by the reader registered for their suffix (ingest/readers); titles; symbolic links out of the folder,
loops and FIFOs refused by name."""

from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ingest.documents import Document, IngestError
from ingest.readers import Limits, reader_for, registered_suffixes
from ingest.titles import TITLE_MAX_CHARS, guess_title, usable_title
from rag.text.terms import strip_invisible

TEXT_SUFFIXES: frozenset[str] = frozenset({".txt", ".md"})
# The built-in formats; supported_suffixes() also has those a plugin registered since.
SUPPORTED_SUFFIXES: frozenset[str] = TEXT_SUFFIXES | registered_suffixes()

__all__ = ["TITLE_MAX_CHARS", "guess_title", "iter_files", "load_document", "supported_suffixes"]


def supported_suffixes() -> frozenset[str]:
    return TEXT_SUFFIXES | registered_suffixes()


# Share of control bytes (other than tab, newline, CR, FF, VT) above which a file counts as binary.
_MAX_CONTROL_SHARE = 0.05
_CONTROL_BYTES = frozenset(set(range(0x09)) | set(range(0x0E, 0x20)) | {0x7F})

_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.DOTALL)


def _build_common_cjk() -> frozenset[str]:
    """The frequently used hanzi of both scripts: GB2312 level 1 plus Big5 level 1 (常用字)."""
    chars: set[str] = set()
    for lead in range(0xB0, 0xD8):  # GB2312 level 1: rows 16-55, 3755 simplified characters
        for trail in range(0xA1, 0xFF):
            try:
                chars.add(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    for lead in range(0xA4, 0xC7):  # Big5 0xA440-0xC67E: 5401 frequently used traditional characters
        for trail in list(range(0x40, 0x7F)) + list(range(0xA1, 0xFF)):
            try:
                chars.add(bytes((lead, trail)).decode("big5"))
            except UnicodeDecodeError:
                pass
    return frozenset(c for c in chars if len(c) == 1 and "\u4e00" <= c <= "\u9fff")


_COMMON_CJK = _build_common_cjk()


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2FFFF or 0xF900 <= cp <= 0xFAFF


def _is_bad(ch: str) -> bool:
    """Characters that a correct decoding of a text file should not produce."""
    cp = ord(ch)
    return (
        cp == 0xFFFD
        or 0xE000 <= cp <= 0xF8FF  # private use
        or cp >= 0xF0000  # supplementary private use planes
        or 0x80 <= cp <= 0x9F  # C1 controls
    )


def _is_odd(ch: str) -> bool:
    """Characters that show up when Big5 is read as GB18030 or the reverse (kana, Greek, Cyrillic, box
    drawing, spacing modifiers, rare full-width forms)."""
    cp = ord(ch)
    return (
        0x3040 <= cp <= 0x30FF
        or 0x0370 <= cp <= 0x04FF
        or 0x2500 <= cp <= 0x257F
        or 0x02B0 <= cp <= 0x02FF
        or (0xFF00 <= cp <= 0xFFEF and ch not in _COMMON_PUNCT)
    )


# Punctuation that Chinese text of either script uses all the time.
_COMMON_PUNCT = frozenset("，。、；：？！「」『』（）《》〈〉【】〔〕…—～·　％＋－／＝．０１２３４５６７８９")


def decoding_score(text: str) -> float:
    """How plausible a decoded Chinese text is: share of its non-ASCII characters that are common hanzi or
    CJK punctuation, minus penalties for rare-script, private-use and replacement characters."""
    good = odd = bad = total = 0
    for ch in text:
        if ch < "\x80":
            continue
        total += 1
        if ch in _COMMON_CJK:
            good += 1
        elif _is_bad(ch):
            bad += 1
        elif _is_odd(ch):
            odd += 1
        elif _is_cjk(ch):
            pass  # a rare hanzi: neither evidence for nor against
        elif ch in _COMMON_PUNCT or 0x2010 <= ord(ch) <= 0x2027:
            good += 1  # CJK punctuation, dashes, curly quotes, ellipsis
    if total == 0:
        return 0.0
    return (good - 2 * odd - 5 * bad) / total


def _bad_share(text: str) -> float:
    non_ascii = [ch for ch in text if ch >= "\x80"]
    if not non_ascii:
        return 0.0
    return sum(map(_is_bad, non_ascii)) / len(non_ascii)


def _looks_binary(raw: bytes) -> bool:
    if b"\x00" in raw:
        return True
    controls = sum(1 for b in raw if b in _CONTROL_BYTES)
    return controls > 0 and controls / len(raw) > _MAX_CONTROL_SHARE


def decode_bytes(raw: bytes, path: str | Path = "<bytes>") -> tuple[str, str]:
    """Decode raw file bytes, returning (text, encoding name); raise IngestError when it is not text."""
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            return raw[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise IngestError(path, "broken UTF-8 after a UTF-8 byte order mark") from exc
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with BOM (e.g. Windows Notepad "Unicode")
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass  # fall through: most likely binary
    if _looks_binary(raw):
        raise IngestError(path, "binary file, not text")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    candidates: list[tuple[float, int, str, str]] = []
    big5_done = False
    # cp950 is the Big5 that Windows writes; plain Big5 and Big5-HKSCS only when it fails.
    for rank, encoding in enumerate(("gb18030", "cp950", "big5", "big5hkscs")):
        if encoding != "gb18030" and big5_done:
            continue
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        # Higher score wins; on a tie the earlier (GB18030) wins.
        big5_done = big5_done or encoding != "gb18030"
        candidates.append((decoding_score(text), -rank, encoding, text))
    best = max(candidates) if candidates else None
    other = _japanese_or_korean(raw, best[3] if best else None, best[0] if best else -1.0)
    if other is not None:
        return other
    if best is not None and _bad_share(best[3]) <= 0.2:
        return best[3], best[2]
    raise IngestError(path, f"cannot decode as {_ENCODINGS_TRIED}")


_ENCODINGS_TRIED = "UTF-8, GB18030, Big5, Shift-JIS, EUC-JP or EUC-KR"
# Below this decoding_score the Chinese reading is doubtful enough to try Japanese (Shift-JIS read as GB18030
# scores about 0.2, EUC-JP below 0; real Chinese text about 1).
_DOUBTFUL_CHINESE = 0.5


def _share(text: str, test) -> float:
    non_ascii = [ch for ch in text if ch >= "\x80"]
    return sum(map(test, non_ascii)) / len(non_ascii) if non_ascii else 0.0


def _is_kana(ch: str) -> bool:
    return "\u3040" <= ch <= "\u30ff"  # full-width only: Big5 read as Shift-JIS gives half-width katakana


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"


def _spaced_han_share(text: str) -> float:
    """Share of Han characters with an ASCII space on either side: Korean (which spaces its words) read as
    GB18030 turns into common hanzi in short spaced runs, which Chinese text, written without spaces, is not."""
    han = spaced = 0
    for i, ch in enumerate(text):
        if _is_cjk(ch):
            han += 1
            spaced += (i > 0 and text[i - 1] == " ") or (i + 1 < len(text) and text[i + 1] == " ")
    return spaced / han if han else 0.0


def _detector_agrees(raw: bytes, language: str) -> bool:
    """A second opinion from charset-normalizer (its language-frequency coherence) when it is installed."""
    try:
        import charset_normalizer
    except ImportError:
        return True
    best = charset_normalizer.from_bytes(raw[:65536]).best()
    return best is not None and best.language == language


def _japanese_or_korean(raw: bytes, chinese: str | None, score: float) -> tuple[str, str] | None:
    """(text, encoding) when the bytes are Japanese or Korean rather than Chinese, else None.

    GB18030 decodes nearly any byte string, so Shift-JIS, EUC-JP and EUC-KR files used to be read as garbage
    Chinese. Japanese: the Chinese reading is doubtful and a Japanese one is at least a fifth kana. Korean (its
    syllables read as GB18030 are common hanzi, so the score cannot tell): the Chinese reading has spaced runs of
    hanzi and the Korean one is mostly Hangul. Either way charset-normalizer must agree.
    """
    if chinese is None or score < _DOUBTFUL_CHINESE:
        for encoding in ("cp932", "euc_jp"):  # cp932: the Shift-JIS Windows writes, a superset
            text = _decode(raw, encoding)
            if text and _share(text, _is_kana) >= 0.2 and not _bad_share(text) and _detector_agrees(raw, "Japanese"):
                return text, encoding
    if chinese is None or _spaced_han_share(chinese) >= 0.05:
        text = _decode(raw, "cp949")  # the EUC-KR Windows writes, a superset
        if text and _share(text, _is_hangul) >= 0.8 and not _bad_share(text) and _detector_agrees(raw, "Korean"):
            return text, "cp949"
    return None


def _decode(raw: bytes, encoding: str) -> str | None:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        return None


def _iso_date(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (_dt.date, _dt.datetime)):  # datetime is a date subclass
        return value.isoformat()
    return str(value).strip() or None


def _categories(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [str(value)]


def parse_front_matter(text: str) -> tuple[dict[str, Any], int]:
    """YAML front matter at the top of text: (mapping, offset of the body). ({}, 0) when there is none or
    it is not a valid YAML mapping (then it stays part of the body)."""
    match = _FRONT_MATTER_RE.match(text)
    if not match:
        return {}, 0
    try:
        data = yaml.safe_load(match.group(1) or "")
    except yaml.YAMLError:
        return {}, 0
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return {}, 0
    return data, match.end()


def _inside(path: str | Path, folder: str | Path) -> bool:
    return Path(path).is_relative_to(os.path.realpath(folder))


def _kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a device"}
    return next((name for test, name in kinds.items() if test(mode)), "a special file")


def check_link(path: Path, root: Path | None, allow_outside_links: bool = False) -> None:
    """Refuse a symbolic link that loops, dangles, or (unless allowed) leads out of the indexed folder `root`:
    a link planted in a folder must not bring /etc/passwd into the notebook."""
    if not path.is_symlink():
        return
    try:
        target = os.path.realpath(path, strict=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IngestError(path, "symbolic link loop") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise IngestError(path, f"broken symbolic link (its target {os.readlink(path)} does not exist)") from None
        raise IngestError(path, f"symbolic link that cannot be followed ({exc.strerror or exc})") from None
    if root is not None and not allow_outside_links and not _inside(target, root):
        why = f"symbolic link to {target}, outside the indexed folder {root}: refused (RAG_FOLLOW_OUTSIDE_LINKS=true allows it)"
        raise IngestError(path, why)


def read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file; a FIFO, socket or device is refused without being read (a FIFO would block)."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise IngestError(path, f"{_kind(mode)}, not a regular file")
        # O_NONBLOCK: a FIFO swapped in after the stat must not hang the run; regular files ignore the flag.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise IngestError(path, f"{_kind(mode)}, not a regular file")
            return file.read()
    except OSError as exc:
        raise IngestError(path, f"cannot read file: {exc.strerror or exc}") from exc


def load_document(
    path: Path, root: Path | None = None, allow_outside_links: bool = False, limits: Limits | None = None
) -> Document:
    """Read one document; raise IngestError (message names the file and the reason) when it can't be.

    `root`: the indexed folder the file was found in; a symbolic link out of it is refused unless
    `allow_outside_links` (Settings.follow_outside_links). `limits`: pages, characters and unzipped bytes one
    document may have (Settings.max_pages, max_extracted_chars, max_unzipped_mb)."""
    path = Path(path)
    check_link(path, root, allow_outside_links)
    suffix = path.suffix.lower()
    reader = None if suffix in TEXT_SUFFIXES else reader_for(suffix)
    if suffix not in TEXT_SUFFIXES and reader is None:
        known = ", ".join(sorted(supported_suffixes()))
        raise IngestError(path, f"unsupported file type {path.suffix or '(none)'!r}; only {known}")
    raw = read_regular_file(path)
    if not raw.strip():
        raise IngestError(path, "empty file")
    meta: dict[str, Any] = {}
    body_start, encoding = 0, suffix.lstrip(".")
    pages: list[tuple[int, int]] = []
    headings: list[tuple[int, str]] = []
    boxes: list = []
    ocr_dropped = 0
    own_title, date = "", None
    limits = limits or Limits()
    if reader is None:
        limits.check_chars(path, len(raw) // 4)  # no encoding takes more than 4 bytes a character
        text, encoding = decode_bytes(raw, path)
        limits.check_chars(path, len(text))
        # Invisible characters out before chunking: a zero-width space inside a word would split its keywords.
        text = strip_invisible(text.replace("\r\n", "\n"))
        if not text.strip():
            raise IngestError(path, "empty file")
        meta, body_start = parse_front_matter(text)
    else:
        try:
            extracted = reader.read(raw, path, limits)
        except IngestError:
            raise
        except (MemoryError, RecursionError, Exception) as exc:  # noqa: BLE001 — a library choking on a hostile file: one line
            why = " ".join(str(exc).split())[:100]  # one line, whatever the library said
            raise IngestError(path, f"cannot read this {suffix} file ({type(exc).__name__}: {why})") from None
        text, pages, headings = extracted.text, extracted.pages, extracted.headings
        boxes, ocr_dropped = extracted.boxes, extracted.ocr_dropped
        own_title, date = usable_title(extracted.title), extracted.date
        if not text.strip():
            raise IngestError(path, "no text in the document")

    title = str(meta.get("title") or "").strip()[:TITLE_MAX_CHARS] or own_title
    if not title:
        title = guess_title(text[body_start:], path.stem)

    if root is not None:
        try:
            source = source_path(path, root).relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            source = path.name
    else:
        source = path.name

    return Document(
        source=source,
        path=path,
        text=text,
        title=title,
        sha256=hashlib.sha256(raw).hexdigest(),
        date=_iso_date(meta.get("date")) or date,
        categories=_categories(meta.get("categories")),
        body_start=body_start,
        encoding=encoding,
        pages=pages,
        headings=headings,
        boxes=boxes,
        ocr_dropped=ocr_dropped,
    )


def source_path(file: Path, root: Path) -> Path:
    """Where a file found under `root` is, to name it by: the folder resolved, the rest as found. A link is named
    by itself, not its target (deleting the link then removes its source), a file under a followed folder link
    by its path in the folder."""
    return Path(os.path.realpath(root)) / Path(file).relative_to(root)


def _is_supported(path: Path) -> bool:
    return path.suffix.lower() in supported_suffixes()


def _walk(folder: Path, follow_outside_links: bool) -> list[Path]:
    """The supported entries (.txt, .md, .pdf ...) under a folder, sorted, hidden ones skipped. Symbolic links, FIFOs and the like are
    listed too so that load_document names the ones it refuses; a link to a folder inside is not followed (its
    files are listed under their own names), one to a folder outside is listed (refused) or, when allowed,
    walked once (a link loop cannot make the walk endless)."""
    found: list[Path] = []
    visited: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=follow_outside_links):
        visited.add(os.path.realpath(dirpath))
        kept = []
        for name in dirnames:
            sub = Path(dirpath) / name
            if name.startswith("."):
                continue
            if sub.is_symlink():
                real = os.path.realpath(sub)
                if _inside(real, folder) or real in visited:
                    continue
                if not follow_outside_links:
                    found.append(sub)  # named as a refused link
                    continue
                visited.add(real)
            kept.append(name)
        dirnames[:] = kept
        # Broken links, loops and FIFOs land in filenames: kept, so they are named rather than skipped silently.
        found += [Path(dirpath) / n for n in filenames if not n.startswith(".") and _is_supported(Path(n))]
    found.sort(key=lambda p: p.relative_to(folder).as_posix())
    # A link to a file of the same walk is left out: the file is indexed under its own name.
    files = {os.path.realpath(p) for p in found if not p.is_symlink()}
    return [p for p in found if not (p.is_symlink() and os.path.realpath(p) in files)]


def iter_files(paths: Iterable[Path], follow_outside_links: bool = False) -> list[tuple[Path, Path]]:
    """(file, root) pairs to load: a directory gives its supported entries (recursive, sorted, hidden
    files and folders skipped) with itself as root; anything else given directly is kept with its folder as root
    (so an unsupported file, a FIFO or a broken link reaches load_document and is named). Duplicates are
    dropped. A path that does not exist raises IngestError."""
    out: list[tuple[Path, Path]] = []
    seen: set[str] = set()

    def add(file: Path, root: Path) -> None:
        key = os.path.realpath(file)  # never raises, not even on a link loop
        if key not in seen:
            seen.add(key)
            out.append((file, root))

    for given in paths:
        given = Path(given)
        if given.is_dir():
            for file in _walk(given, follow_outside_links):
                add(file, given)
        elif os.path.lexists(given):
            add(given, given.parent)
        else:
            raise IngestError(given, "no such file or directory")
    return out
