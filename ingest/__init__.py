"""Ingest pipeline: load seed files, split them into chunks, index them into Chroma and BM25."""
