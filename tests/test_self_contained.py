"""The repository stands alone: no file cites a document or a path that exists only outside it (issue 12, item 7)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Built from parts so that this file does not match itself.
FORBIDDEN = ("PROTOCOLS" + ".md", "/wo" + "rk/", "../sha" + "red", "sha" + "red/PRO")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / n for n in names.splitlines() if not n.endswith((".png", ".ico", ".woff", ".woff2"))]


def test_no_reference_outside_the_repository():
    offenders = []
    for path in tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        offenders += [f"{path.relative_to(ROOT)}: {word}" for word in FORBIDDEN if word in text]
    assert offenders == []


def test_protocol_docs_exist_and_are_cited():
    for name in ("daraja", "routeros"):
        doc = ROOT / "docs" / "protocols" / f"{name}.md"
        assert doc.is_file()
        assert "## Sources" in doc.read_text(encoding="utf-8")
        cited = [p for p in tracked_text_files() if p.suffix == ".py" and f"protocols/{name}.md" in p.read_text()]
        assert cited, f"no module cites docs/protocols/{name}.md"
