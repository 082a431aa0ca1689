"""Benchmarks: the seeds, the dev questions and the external retrieval sets (`make bench`)."""


def report(lines: list[str], out=None) -> None:
    """Print a Markdown report and, with `out` (a Path), also write it there."""
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        out.write_text(text, encoding="utf-8")
