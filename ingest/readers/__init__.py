"""Document formats beyond plain text: one reader module per format, registered by file suffix (see base.py)."""

from ingest.readers import docx, epub, html, image, pdf  # noqa: F401  (each registers its reader; heavy imports stay lazy)
from ingest.readers.base import Extracted, Limits, Reader, reader_for, register, registered_suffixes

__all__ = ["Extracted", "Limits", "Reader", "reader_for", "register", "registered_suffixes"]
