"""The RouterOS simulator against docs/protocols/routeros.md: wire codec, raw sentences, unmodified clients."""

from __future__ import annotations

import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import librouteros
import librouteros.protocol as lr_protocol
import pytest
import routeros_api
from librouteros.exceptions import ConnectionClosed, FatalError, TrapError
from librouteros.query import And, Key, Or

from simulators.routeros import (
    ProtocolViolation,
    SessionRefused,
    decode_length,
    encode_length,
    matches,
    prefix_size,
)
from simulators.routeros_system import format_uptime
from tests.processes import spawn
from tests.routeros_fixtures import (  # noqa: F401 (the *_fixture imports register pytest fixtures)
    ROUTER_PASSWORD,
    RawClient,
    api_connect,
    make_simulator,
    raw_client_fixture,
    routeros_api_fixture,
    routeros_sim_fixture,
    self_signed_cert,
    server_context,
)

NAME, DISABLED, PROFILE = Key("name"), Key("disabled"), Key("profile")


# ---------------------------------------------------------------------------------------------- codec

BOUNDARIES = [
    (0, b"\x00"),
    (0x7F, b"\x7f"),
    (0x80, b"\x80\x80"),
    (0x3FFF, b"\xbf\xff"),
    (0x4000, b"\xc0\x40\x00"),
    (0x1FFFFF, b"\xdf\xff\xff"),
    (0x200000, b"\xe0\x20\x00\x00"),
    (0xFFFFFFF, b"\xef\xff\xff\xff"),
    (0x10000000, b"\xf0\x10\x00\x00\x00"),
]


@pytest.mark.parametrize(("length", "encoded"), BOUNDARIES)
def test_length_encoding_round_trips(length, encoded):
    assert encode_length(length) == encoded
    assert prefix_size(encoded[0]) == len(encoded)
    assert decode_length(encoded) == length


@pytest.mark.parametrize(("length", "encoded"), BOUNDARIES[:-1])
def test_length_encoding_agrees_with_librouteros(length, encoded):
    assert lr_protocol.encode_length(length) == encoded
    assert lr_protocol.decode_length(encoded) == length


@pytest.mark.parametrize("first_byte", [0xF8, 0xF9, 0xFF])
def test_reserved_control_bytes_are_refused(first_byte):
    with pytest.raises(ProtocolViolation):
        prefix_size(first_byte)


def test_length_out_of_range_cannot_be_encoded():
    with pytest.raises(ValueError, match="cannot be encoded"):
        encode_length(0x100000000)


# ---------------------------------------------------------------------------------------------- queries

ITEM = {".id": "*1", "name": "alice", "disabled": "false", "limit-bytes-in": "100"}


@pytest.mark.parametrize(
    ("queries", "expected"),
    [
        ([], True),
        (["?name"], True),
        (["?comment"], False),
        (["?-comment"], True),
        (["?name=alice"], True),
        (["?=name=alice"], True),
        (["?=name=bob"], False),
        (["?=disabled=no"], True),
        (["?<limit-bytes-in=99"], False),
        (["?<limit-bytes-in=200"], True),
        (["?>limit-bytes-in=20"], True),  # numeric, not text, comparison
        (["?=name=alice", "?#!"], False),
        (["?=name=bob", "?=name=alice", "?#|"], True),
        (["?=name=bob", "?=name=alice", "?#&"], False),
        (["?=name=bob", "?=name=alice"], False),  # leftover stack values are AND-ed
        (["?=name=alice", "?#.", "?#&"], True),
        (["?=name=bob", "?=name=alice", "?#1"], False),  # copies depth 1 (the false) to the top
    ],
)
def test_query_stack(queries, expected):
    assert matches(ITEM, queries) is expected


# ---------------------------------------------------------------------------------------------- raw wire


def test_every_length_form_is_read_from_the_wire(raw_client):
    # Non-minimal prefixes are still valid encodings; this is how the 5-byte form is exercised cheaply.
    word = b"/login"
    prefixes = [bytes([len(word)]), (len(word) | 0x8000).to_bytes(2, "big"), (len(word) | 0xC00000).to_bytes(3, "big"),
                (len(word) | 0xE0000000).to_bytes(4, "big"), b"\xf0" + len(word).to_bytes(4, "big")]  # fmt: skip
    for prefix in prefixes:
        raw_client.send_bytes(prefix + word + b"\x00")
        reply = raw_client.until_done()
        assert reply[-1][0] == "!done"
        assert reply[-1][1].startswith("=ret=")  # the legacy challenge


@pytest.mark.parametrize("size", [0x80, 0x4000, 0x200000])
def test_long_words_both_directions(raw_client, size):
    raw_client.login()
    comment = "c" * size
    assert raw_client.call("/ppp/secret/add", "=name=long", f"=comment={comment}") == [["!done", "=ret=*1"]]
    rows = raw_client.call("/ppp/secret/print", "=.proplist=comment")
    assert rows == [["!re", f"=comment={comment}"], ["!done"]]


def test_control_byte_gets_fatal_and_close(raw_client):
    raw_client.send_bytes(b"\xf8")
    reply = raw_client.sentence()
    assert reply[0] == "!fatal"
    assert "reserved control byte 0xF8" in reply[1]
    assert raw_client.at_eof()


def test_command_before_login_is_refused(raw_client):
    assert raw_client.call("/ppp/secret/print") == [["!trap", "=message=not logged in"], ["!done"]]


def test_tag_echoed_on_every_reply_sentence(raw_client, routeros_sim):
    assert raw_client.call("/login", "=name=admin", f"=password={ROUTER_PASSWORD}", ".tag=1") == [["!done", ".tag=1"]]
    routeros_sim.router.menus["/ppp/secret"].insert({"name": "a"})
    routeros_sim.router.menus["/ppp/secret"].insert({"name": "b"})
    rows = raw_client.call("/ppp/secret/print", "=.proplist=name", ".tag=x2")
    assert rows == [["!re", "=name=a", ".tag=x2"], ["!re", "=name=b", ".tag=x2"], ["!done", ".tag=x2"]]
    trap = raw_client.call("/ppp/secret/add", "=name=c", "=profile=nope", ".tag=3")
    assert trap == [["!trap", "=message=input does not match any value of profile", "=category=1", ".tag=3"],
                    ["!done", ".tag=3"]]  # fmt: skip
    assert raw_client.call("/ppp/secret/print", "?name=zz", ".tag=4") == [["!empty", ".tag=4"], ["!done", ".tag=4"]]


def test_no_tag_when_none_sent(raw_client):
    raw_client.login()
    for reply in (raw_client.call("/ppp/secret/add", "=name=a"), raw_client.call("/nope/print")):
        assert not any(word.startswith(".tag") for sentence in reply for word in sentence)


def test_failed_login_traps_then_done(raw_client):
    reply = raw_client.call("/login", "=name=admin", "=password=wrong")
    assert reply == [["!trap", "=message=invalid user name or password (6)"], ["!done"]]


def test_quit_is_fatal_and_closes(raw_client):
    raw_client.login()
    assert raw_client.call("/quit", ".tag=9") == [["!fatal", "session terminated on request", ".tag=9"]]
    assert raw_client.at_eof()


def test_empty_sentences_are_ignored(raw_client):
    raw_client.send_bytes(b"\x00\x00")
    raw_client.login()


@pytest.mark.parametrize(("version", "expected"), [("7.18", [["!empty"], ["!done"]]), ("7.17", [["!done"]])])
def test_empty_print_by_version(version, expected):
    sim = make_simulator(ros_version=version)
    client = RawClient(sim.port)
    try:
        client.login()
        assert client.call("/ppp/secret/print") == expected
        api = api_connect(sim)
        assert tuple(api.path("ppp", "secret")) == ()  # librouteros copes with both
        assert tuple(api.path("ppp", "secret").select(NAME).where(NAME == "x")) == ()
        api.close()
    finally:
        client.close()
        sim.stop()


# ---------------------------------------------------------------------------------------------- librouteros


def test_login_ok_and_wrong_password(routeros_sim):
    api_connect(routeros_sim).close()
    with pytest.raises(TrapError, match=r"invalid user name or password \(6\)"):
        api_connect(routeros_sim, password="wrong")


def test_legacy_challenge_login_before_6_45():
    sim = make_simulator(ros_version="6.42")
    try:
        api_connect(sim, login_method=librouteros.login.token).close()
        with pytest.raises(TrapError, match="cannot log in"):
            api_connect(sim, password="wrong", login_method=librouteros.login.token)
        api_connect(sim).close()  # 6.43 introduced the plain login; a 6.42 simulator is lenient and takes both
    finally:
        sim.stop()


def test_v7_refuses_the_legacy_challenge_login(routeros_sim, raw_client):
    with pytest.raises(TrapError, match=r"invalid user name or password \(6\)"):
        api_connect(routeros_sim, login_method=librouteros.login.token)
    (challenge,) = raw_client.call("/login")  # the challenge is still handed out; the answer to it is refused
    assert challenge[0] == "!done" and re.fullmatch(r"=ret=[0-9a-f]{32}", challenge[1])
    refused = raw_client.call("/login", "=name=admin", "=response=00" + "0" * 32)
    assert refused == [["!trap", "=message=invalid user name or password (6)"], ["!done"]]
    raw_client.login()  # the plain login on the same connection still works


def test_ppp_secret_add_print_update_disable_enable_remove(routeros_api, routeros_sim):
    secrets = routeros_api.path("ppp", "secret")
    first = secrets.add(name="alice", password="pw", service="pppoe", profile="10M", disabled=False, comment="c")
    second = secrets.add(name="bob", password="1234")
    assert (first, second) == ("*1", "*2")
    rows = {row["name"]: row for row in secrets}
    assert rows["alice"] == {".id": "*1", "name": "alice", "password": "pw", "service": "pppoe", "profile": "10M",
                             "caller-id": "", "routes": "", "limit-bytes-in": 0, "limit-bytes-out": 0,
                             "disabled": False, "comment": "c"}  # fmt: skip
    assert (rows["bob"]["service"], rows["bob"]["profile"]) == ("any", "default")

    secrets.update(**{".id": first, "profile": "20M", "disabled": True})
    assert routeros_sim.state()["/ppp/secret"][0]["profile"] == "20M"
    assert routeros_sim.state()["/ppp/secret"][0]["disabled"] == "true"
    tuple(secrets("enable", **{".id": first}))
    tuple(secrets("disable", numbers="bob"))  # =numbers= and the item's name as id
    assert [(r["name"], r["disabled"]) for r in secrets] == [("alice", False), ("bob", True)]

    secrets.remove(first, second)
    assert tuple(secrets) == ()
    assert secrets.add(name="carol") == "*3"  # ids are never reused


def test_hotspot_user_add_print_update_remove(routeros_api):
    users = routeros_api.path("ip", "hotspot", "user")
    user_id = users.add(name="dave", password="x", profile="10M")
    (row,) = tuple(users)
    assert (row["server"], row["profile"], row["disabled"]) == ("all", "10M", False)
    users.update(**{".id": user_id, "profile": "20M", "disabled": "yes"})
    assert tuple(users.select(PROFILE, DISABLED)) == ({"profile": "20M", "disabled": True},)
    tuple(users("enable", **{".id": user_id}))
    users.remove(user_id)
    assert tuple(users) == ()


def test_select_where(routeros_api):
    secrets = routeros_api.path("ppp", "secret")
    for name, disabled in (("a", False), ("b", True), ("c", False)):
        secrets.add(name=name, disabled=disabled)

    def names(*where):
        return [r["name"] for r in secrets.select(NAME).where(*where)]

    assert names(NAME == "b") == ["b"]
    assert names(NAME != "b") == ["a", "c"]
    assert names(NAME.In("a", "c", "zz")) == ["a", "c"]
    assert names(Or(NAME == "a", NAME == "b")) == ["a", "b"]
    assert names(And(DISABLED == False, NAME != "a")) == ["c"]  # noqa: E712 (librouteros query syntax)
    assert names(NAME == "a", DISABLED == True) == []  # noqa: E712


@pytest.mark.parametrize(
    ("path", "command", "kwargs", "message", "category"),
    [
        (("ppp", "secret"), "add", {"name": "dup"}, "failure: secret with the same name already exists", None),
        (("ip", "hotspot", "user"), "add", {"name": "dup"}, "failure: already have user with this name for this server",
         None),
        (("ppp", "secret"), "add", {"name": "x", "profile": "nope"}, "input does not match any value of profile", 1),
        (("ppp", "secret"), "add", {"name": "x", "colour": "red"}, "unknown parameter", None),
        (("ppp", "secret"), "set", {".id": "*99", "profile": "10M"}, "no such item", None),
        (("ppp", "secret"), "remove", {".id": "*99"}, "no such item", None),
        (("ppp", "secret"), "frobnicate", {}, "no such command prefix", 0),
        (("ppp", "nosuchmenu"), "print", {}, "no such command prefix", 0),
        (("ppp", "active"), "add", {"name": "x"}, "no such command prefix", 0),
        (("ppp", "profile"), "remove", {".id": "*0"}, "failure: default profile can not be removed", None),
    ],
)  # fmt: skip
def test_traps(routeros_api, path, command, kwargs, message, category):
    routeros_api.path("ppp", "secret").add(name="dup")
    routeros_api.path("ip", "hotspot", "user").add(name="dup")
    with pytest.raises(TrapError) as info:
        tuple(routeros_api.path(*path)(command, **kwargs))
    assert info.value.message == message
    assert info.value.category == category
    assert tuple(routeros_api.path("ppp", "profile").select(NAME).where(NAME == "default"))  # stream still in step


def test_unambiguous_profile_prefix_resolves_and_ambiguous_traps(routeros_api):
    secrets = routeros_api.path("ppp", "secret")
    secrets.add(name="x", profile="10")
    assert tuple(secrets.select(PROFILE)) == ({"profile": "10M"},)
    secrets.add(name="y", profile="default")  # an exact name wins over being a prefix of default-encryption
    with pytest.raises(TrapError, match="ambiguous value of profile"):
        secrets.add(name="z", profile="def")


def test_sessions_survive_disable_and_are_removed_by_remove(routeros_api, routeros_sim):
    secrets, active = routeros_api.path("ppp", "secret"), routeros_api.path("ppp", "active")
    secret_id = secrets.add(name="alice", password="pw", service="pppoe")
    session_id = routeros_sim.connect_session("pppoe", "alice", password="pw", address="10.0.0.9")
    (row,) = tuple(active)
    assert (row[".id"], row["name"], row["address"]) == (session_id, "alice", "10.0.0.9")

    tuple(secrets("disable", **{".id": secret_id}))
    assert len(tuple(active)) == 1  # routeros.md §3: disabling does not end the running session
    with pytest.raises(SessionRefused, match="disabled"):
        routeros_sim.connect_session("pppoe", "alice")

    active.remove(session_id)
    assert tuple(active) == ()
    assert routeros_sim.state()["/ppp/active"] == []


def test_hotspot_session_hooks(routeros_api, routeros_sim):
    routeros_api.path("ip", "hotspot", "user").add(name="dave", password="x")
    with pytest.raises(SessionRefused, match="wrong password"):
        routeros_sim.connect_session("hotspot", "dave", password="nope")
    with pytest.raises(SessionRefused, match="no /ip/hotspot/user"):
        routeros_sim.connect_session("hotspot", "nobody")
    session_id = routeros_sim.connect_session("hotspot", "dave", mac_address="AA:BB:CC:DD:EE:FF")
    active = routeros_api.path("ip", "hotspot", "active")
    rows = tuple(active.select(Key("user"), Key("mac-address")))
    assert rows == ({"user": "dave", "mac-address": "AA:BB:CC:DD:EE:FF"},)
    with pytest.raises(TrapError, match="no such command prefix"):
        tuple(active("set", **{".id": session_id, "user": "eve"}))
    active.remove(session_id)
    assert tuple(active) == ()


def test_reset_and_state(routeros_api, routeros_sim):
    routeros_api.path("ppp", "secret").add(name="alice")
    routeros_sim.reset()
    state = routeros_sim.state()
    assert state["/ppp/secret"] == []
    assert [p["name"] for p in state["/ppp/profile"]] == ["default", "default-encryption", "10M", "20M"]
    assert [p["name"] for p in state["/ip/hotspot/user/profile"]] == ["default", "10M", "20M"]
    assert routeros_api.path("ppp", "secret").add(name="bob") == "*1"  # a reset is a reboot: ids start again


def test_quit_raises_fatal(routeros_api):
    with pytest.raises(FatalError, match="session terminated on request"):
        tuple(routeros_api("/quit"))


def test_down_and_up_again(routeros_sim):
    port = routeros_sim.port
    api = api_connect(routeros_sim)
    routeros_sim.stop()
    with pytest.raises((ConnectionClosed, ConnectionResetError)):  # the open connection is cut ...
        tuple(api.path("ppp", "secret"))
    with pytest.raises(ConnectionRefusedError):  # ... and new ones are refused
        api_connect(routeros_sim)
    routeros_sim.start()
    assert routeros_sim.port == port
    api_connect(routeros_sim).close()


def test_unresponsive_router_times_out(routeros_sim):
    routeros_sim.unresponsive = True
    with pytest.raises(TimeoutError):
        librouteros.connect("127.0.0.1", "admin", ROUTER_PASSWORD, port=routeros_sim.port, timeout=0.2)


def test_concurrent_clients_get_distinct_ids(routeros_sim):
    ids: list[str] = []

    def add_many(prefix: str) -> None:
        api = api_connect(routeros_sim)
        ids.extend(api.path("ppp", "secret").add(name=f"{prefix}{i}") for i in range(20))
        api.close()

    threads = [threading.Thread(target=add_many, args=(p,)) for p in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 80


def test_tls(tmp_path):
    cert, key, pem = self_signed_cert(tmp_path)
    sim = make_simulator(ssl_context=server_context(cert, key))
    try:
        client_context = ssl.create_default_context(cadata=pem)
        api = api_connect(sim, ssl_wrapper=lambda s: client_context.wrap_socket(s, server_hostname="127.0.0.1"))
        assert tuple(api.path("ppp", "profile").select(NAME).where(NAME == "10M")) == ({"name": "10M"},)
        api.close()
    finally:
        sim.stop()


@pytest.mark.parametrize(("plaintext_login", "version"), [(True, "7.18"), (False, "6.42")])
def test_routeros_api_client(plaintext_login, version):
    # socialwifi's client tags every sentence and, by default, uses the legacy challenge login (pre-6.43 routers).
    sim = make_simulator(ros_version=version)
    pool = routeros_api.RouterOsApiPool("127.0.0.1", username="admin", password=ROUTER_PASSWORD,
                                        port=sim.port, plaintext_login=plaintext_login)  # fmt: skip
    try:
        secrets = pool.get_api().get_resource("/ppp/secret")
        secrets.add(name="alice", password="pw", profile="10M")
        (row,) = secrets.get(name="alice")
        secrets.set(id=row["id"], profile="20M")
        secrets.call("disable", {"numbers": row["id"]})
        assert [(r["profile"], r["disabled"]) for r in secrets.get(name="alice")] == [("20M", "true")]
        assert secrets.get(name="nobody") == []  # !empty on 7.18
        with pytest.raises(routeros_api.exceptions.RouterOsApiCommunicationError, match="same name"):
            secrets.add(name="alice")
        secrets.remove(id=row["id"])
        assert secrets.get() == []
    finally:
        pool.disconnect()
        sim.stop()


def test_routeros_api_default_login_is_refused_by_v7(routeros_sim):
    pool = routeros_api.RouterOsApiPool("127.0.0.1", username="admin", password=ROUTER_PASSWORD,
                                        port=routeros_sim.port)  # fmt: skip
    try:
        with pytest.raises(routeros_api.exceptions.RouterOsApiCommunicationError, match=r"password \(6\)"):
            pool.get_api()
    finally:
        pool.disconnect()


# ---------------------------------------------------------------------------------------------- /system


def test_system_identity_and_resource_with_librouteros(routeros_api):
    assert tuple(routeros_api.path("system", "identity")) == ({"name": "MikroTik"},)
    (resource,) = tuple(routeros_api.path("system", "resource"))
    assert resource["version"] == "7.18 (stable)"
    assert resource["board-name"] == "CHR" and resource["platform"] == "MikroTik"
    assert re.fullmatch(r"(\d+w)?(\d+d)?(\d+h)?(\d+m)?\d+s", resource["uptime"])
    assert 0 < resource["free-memory"] <= resource["total-memory"]  # librouteros casts integers
    assert 0 <= resource["cpu-load"] <= 100 and resource["cpu-count"] >= 1
    assert "free-hdd-space" in resource and "architecture-name" in resource and "build-time" in resource
    assert tuple(routeros_api.path("system", "resource").select(Key("version"))) == ({"version": "7.18 (stable)"},)
    tuple(routeros_api.path("system", "identity")("set", name="core-router-1"))  # librouteros calls are lazy
    assert tuple(routeros_api.path("system", "identity")) == ({"name": "core-router-1"},)


def test_system_menus_over_the_raw_wire(raw_client):
    raw_client.login()
    assert raw_client.call("/system/identity/print") == [["!re", "=name=MikroTik"], ["!done"]]
    assert raw_client.call("/system/resource/print", "=.proplist=platform,board-name") == [
        ["!re", "=platform=MikroTik", "=board-name=CHR"],
        ["!done"],
    ]
    assert raw_client.call("/system/resource/set", "=cpu=x") == [
        ["!trap", "=message=no such command prefix", "=category=0"],
        ["!done"],
    ]
    unknown = [["!trap", "=message=unknown parameter"], ["!done"]]
    assert raw_client.call("/system/identity/set", "=colour=red") == unknown
    assert raw_client.call("/system/identity/print", "?name=nope") == [["!empty"], ["!done"]]


def test_system_resource_with_routeros_api(routeros_sim):
    pool = routeros_api.RouterOsApiPool("127.0.0.1", username="admin", password=ROUTER_PASSWORD,
                                        port=routeros_sim.port, plaintext_login=True)  # fmt: skip
    try:
        api = pool.get_api()
        (resource,) = api.get_resource("/system/resource").get()
        assert resource["version"] == "7.18 (stable)" and int(resource["total-memory"]) > 0
        assert api.get_resource("/system/identity").get() == [{"name": "MikroTik"}]
    finally:
        pool.disconnect()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_main_serves_demo_profiles_until_interrupted():
    port = _free_port()
    proc = spawn([sys.executable, "-m", "simulators.routeros", "--port", str(port)],
                 cwd=Path(__file__).resolve().parents[2], stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 30  # starting Python on a loaded machine takes seconds
        while True:
            try:
                api = librouteros.connect("127.0.0.1", "admin", ROUTER_PASSWORD, port=port, timeout=10)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.05)
        names = {r["name"] for r in api.path("ip", "hotspot", "user", "profile")}
        assert {"default", "10M", "20M"} <= names
        api.close()
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr.decode()
    assert f"127.0.0.1:{port}" in stderr.decode()


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (59, "59s"), (60, "1m"), (3725, "1h2m5s"), (694861, "1w1d1h1m1s"), (86400, "1d")]
)
def test_uptime_format(seconds, text):
    assert format_uptime(seconds) == text
