"""RouterOS API wire codec: the length prefixes, words and sentences of docs/protocols/routeros.md §1.

Pure functions over bytes, no sockets: the server in ``simulators.routeros`` reads and writes through them, and raw
tests use them directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

MAX_LENGTH = 0xFFFFFFFF  # the 5-byte form carries 4 length bytes


class ProtocolViolation(Exception):
    """The peer sent bytes that are not a valid API word; the router drops such a connection."""


def encode_length(length: int) -> bytes:
    """Return the 1-5 byte API length prefix for ``length``; ValueError outside 0..0xFFFFFFFF."""
    if not 0 <= length <= MAX_LENGTH:
        raise ValueError(f"word length {length} cannot be encoded")
    if length < 0x80:
        return length.to_bytes(1, "big")
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    return b"\xf0" + length.to_bytes(4, "big")


def prefix_size(first_byte: int) -> int:
    """Return how many bytes the length prefix starting with ``first_byte`` has.

    :raise ProtocolViolation: for the reserved control bytes 0xF8-0xFF (and 0xF1-0xF7, never valid).
    """
    if first_byte < 0x80:
        return 1
    if first_byte < 0xC0:
        return 2
    if first_byte < 0xE0:
        return 3
    if first_byte < 0xF0:
        return 4
    if first_byte == 0xF0:
        return 5
    raise ProtocolViolation(f"reserved control byte 0x{first_byte:02X}")


def decode_length(prefix: bytes) -> int:
    """Return the length carried by a complete prefix (as sized by ``prefix_size``)."""
    size = prefix_size(prefix[0])
    if len(prefix) != size:
        raise ProtocolViolation(f"length prefix needs {size} bytes, got {len(prefix)}")
    if size == 5:
        return int.from_bytes(prefix[1:], "big")
    mask = (0x80, 0xC000, 0xE00000, 0xF0000000)[size - 1]
    return int.from_bytes(prefix, "big") & ~mask


def encode_word(word: str) -> bytes:
    """Return ``word`` as prefix + UTF-8 bytes."""
    data = word.encode("utf-8", "surrogateescape")
    return encode_length(len(data)) + data


def encode_sentence(words: Iterable[str]) -> bytes:
    """Return the words followed by the zero-length word that ends a sentence."""
    return b"".join(encode_word(w) for w in words) + b"\x00"


def read_sentence(read_exact: Callable[[int], bytes], max_word: int = 1 << 20) -> list[str]:
    """Read one sentence with ``read_exact(n)`` (which raises EOFError when the peer closes).

    :raise ProtocolViolation: on a control byte or a word longer than ``max_word``.
    """
    words: list[str] = []
    while True:
        prefix = read_exact(1)
        prefix += read_exact(prefix_size(prefix[0]) - 1)
        length = decode_length(prefix)
        if length == 0:
            return words
        if length > max_word:
            raise ProtocolViolation(f"word of {length} bytes exceeds the {max_word}-byte limit")
        words.append(read_exact(length).decode("utf-8", "surrogateescape"))
