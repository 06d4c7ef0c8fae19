"""Why the workshop refuses a source: PostgreSQL's compile error (400, with the line) or the gates (422)."""

from __future__ import annotations

from core.errors import GatewayError


class CompileRefused(GatewayError):
    """PostgreSQL refused the source, or it changes the function's name, schema or ABI signature."""

    http_status, code = 400, "compile_error"

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line

    def body(self) -> dict:
        return {**super().body(), "line": self.line}


class GateRefused(GatewayError):
    """Lint findings or failing attached tests, without an override reason."""

    http_status, code = 422, "refused_by_gates"

    def __init__(self, message: str, findings: list[dict]) -> None:
        super().__init__(message)
        self.findings = findings

    def body(self) -> dict:
        return {**super().body(), "findings": self.findings}
