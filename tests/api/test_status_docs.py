"""docs/api.md lists every status the API answers with, and agrees with the OpenAPI document."""

from __future__ import annotations

import re
from pathlib import Path

from gateway import openapi

ROOT = Path(__file__).resolve().parents[2]


def _table_statuses(markdown: str, heading: str) -> set[str]:
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| (\d{3}) \|", section, flags=re.MULTILINE))


def test_every_openapi_status_is_in_the_api_docs():
    documented = _table_statuses((ROOT / "docs" / "api.md").read_text(), "## Statuses")
    in_openapi = {
        code for path in openapi.document()["paths"].values() for op in path.values() for code in op["responses"]
    }
    assert in_openapi <= documented, in_openapi - documented
    assert {"200", "201", "202", "402", "405", "500"} <= documented


def test_a_declined_payment_status_is_documented_in_both_tables():
    assert "402" in openapi.document()["paths"]["/api/v1/payment/process"]["post"]["responses"]
    readme = (ROOT / "README.md").read_text()
    assert "| 402 | payment declined" in readme
    assert "1,024 characters" in (ROOT / "docs" / "api.md").read_text()
