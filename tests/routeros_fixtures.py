"""RouterOS simulator fixtures and a raw API client, shared by the simulator and router-adapter tests.

Test modules import the ``*_fixture`` functions (each registers under its ``name=``), so no conftest is shared.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import librouteros
import pytest
from librouteros.api import Api

from simulators.routeros import (
    DEMO_HOTSPOT_PROFILES,
    DEMO_PPP_PROFILES,
    RouterOSSimulator,
    encode_sentence,
    read_sentence,
)

ROUTER_USER = "admin"
ROUTER_PASSWORD = "sim-router-pass"


def make_simulator(**kwargs: object) -> RouterOSSimulator:
    """A started simulator on a free loopback port, with the demo profiles (10M, 20M)."""
    options = {"ppp_profiles": DEMO_PPP_PROFILES, "hotspot_profiles": DEMO_HOTSPOT_PROFILES, **kwargs}
    return RouterOSSimulator("127.0.0.1", 0, **options).start()  # type: ignore[arg-type]


@pytest.fixture(name="routeros_sim")
def routeros_sim_fixture() -> Iterator[RouterOSSimulator]:
    sim = make_simulator()
    yield sim
    sim.stop()


def api_connect(sim: RouterOSSimulator, password: str = ROUTER_PASSWORD, **kwargs: object) -> Api:
    """The unmodified librouteros client, logged in to ``sim``."""
    return librouteros.connect("127.0.0.1", ROUTER_USER, password, port=sim.port, timeout=5, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(name="routeros_api")
def routeros_api_fixture(routeros_sim: RouterOSSimulator) -> Iterator[Api]:
    api = api_connect(routeros_sim)
    yield api
    api.close()


class RawClient:
    """Speaks the wire format by hand, to see exactly which sentences come back."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.rfile = self.sock.makefile("rb")

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, *words: str) -> None:
        self.sock.sendall(encode_sentence(words))

    def _read_exact(self, n: int) -> bytes:
        data = self.rfile.read(n)
        if len(data) < n:
            raise EOFError
        return data

    def sentence(self) -> list[str]:
        return read_sentence(self._read_exact, max_word=1 << 30)

    def until_done(self) -> list[list[str]]:
        """Read sentences up to and including ``!done`` (or a ``!fatal``)."""
        out = [self.sentence()]
        while out[-1][0] not in ("!done", "!fatal"):
            out.append(self.sentence())
        return out

    def call(self, *words: str) -> list[list[str]]:
        self.send(*words)
        return self.until_done()

    def login(self) -> None:
        assert self.call("/login", f"=name={ROUTER_USER}", f"=password={ROUTER_PASSWORD}") == [["!done"]]

    def at_eof(self) -> bool:
        return self.rfile.read(1) == b""

    def close(self) -> None:
        self.rfile.close()
        self.sock.close()


@pytest.fixture(name="raw_client")
def raw_client_fixture(routeros_sim: RouterOSSimulator) -> Iterator[RawClient]:
    client = RawClient(routeros_sim.port)
    yield client
    client.close()


def self_signed_cert(directory: Path) -> tuple[Path, Path, str]:
    """Write a certificate for 127.0.0.1 and its key; return (cert path, key path, cert PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "routeros-sim")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_path, key_path = directory / "router.crt", directory / "router.key"
    cert_path.write_text(pem)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path, pem


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context
