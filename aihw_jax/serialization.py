"""The msgpack envelope in which aihw_jax stores and sends weights.

An envelope is a msgpack map ``{"format": "aihw-jax", "version": 1,
"kind": ..., "sha256": ..., "payload": ...}``; the checksum covers the
payload bytes, so a truncated or altered file is detected before use.
Weights are a Flax state dict of the model's variables (``params``,
``analog`` and ``batch_stats``), serialised with ``flax.serialization``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import flax.serialization
import jax
import msgpack
import numpy as np

from aihw_jax.errors import SerializationError

__all__ = [
    "FORMAT",
    "SAVED_COLLECTIONS",
    "VERSION",
    "dump_envelope",
    "load_envelope",
    "variables_from_bytes",
    "variables_to_bytes",
]

FORMAT = "aihw-jax"
"""The ``format`` field of every envelope."""
VERSION = 1
"""The envelope version this aihw_jax writes and reads."""
SAVED_COLLECTIONS = ("params", "analog", "batch_stats")
"""Variable collections that weights files hold (those a model has)."""


def dump_envelope(kind: str, payload: bytes) -> bytes:
    """Wrap ``payload`` bytes in a checksummed envelope of the given ``kind``.

    Examples:
        >>> data = dump_envelope("notes", b"hello")
        >>> load_envelope(data, "notes")
        b'hello'
        >>> load_envelope(data[:-1], "notes")
        Traceback (most recent call last):
        ...
        aihw_jax.errors.SerializationError: Data is not a msgpack envelope: ...
    """
    digest = hashlib.sha256(payload).hexdigest()
    envelope = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "sha256": digest,
        "payload": payload,
    }
    return msgpack.packb(envelope, use_bin_type=True)


def load_envelope(data: bytes, kind: str) -> bytes:
    """Check an envelope and return its payload bytes.

    Raises:
        SerializationError: if ``data`` is not an envelope of this format and
            version, contains another kind, or fails its checksum.
    """
    try:
        # An envelope is one small map around one binary payload; the limits
        # stop a crafted header from allocating more than the data's size.
        envelope = msgpack.unpackb(
            data,
            raw=False,
            max_bin_len=len(data),
            max_str_len=256,
            max_array_len=0,
            max_map_len=8,
            max_ext_len=0,
        )
    except Exception as error:  # msgpack raises several unrelated types
        detail = str(error).rstrip(".") or type(error).__name__
        raise SerializationError(
            f"Data is not a msgpack envelope: {detail}."
        ) from error
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise SerializationError(f"Data is not an {FORMAT!r} envelope.")
    if envelope.get("version") != VERSION:
        raise SerializationError(
            f"Envelope version {envelope.get('version')!r} is not supported; "
            f"this aihw_jax reads version {VERSION}."
        )
    if envelope.get("kind") != kind:
        raise SerializationError(
            f"Envelope contains {envelope.get('kind')!r}, expected {kind!r}."
        )
    payload = envelope.get("payload")
    if not isinstance(payload, bytes):
        raise SerializationError("Envelope has no payload bytes.")
    if hashlib.sha256(payload).hexdigest() != envelope.get("sha256"):
        raise SerializationError(
            "Envelope checksum does not match its payload; the data is corrupt."
        )
    return payload


def variables_to_bytes(variables: dict[str, Any]) -> bytes:
    """Serialise a model's saved variable collections into an envelope."""
    trainable_and_analog = {
        name: variables[name] for name in SAVED_COLLECTIONS if name in variables
    }
    state = flax.serialization.to_state_dict(jax.device_get(trainable_and_analog))
    return dump_envelope("weights", flax.serialization.msgpack_serialize(state))


def variables_from_bytes(template: dict[str, Any], data: bytes) -> dict[str, Any]:
    """Load serialised variables into the structure of ``template``.

    Args:
        template: variables of the same model, e.g. from ``model.init``.
        data: bytes from :func:`variables_to_bytes`.

    Raises:
        SerializationError: if the data is corrupt or does not fit the model;
            the message names the first variable whose shape differs.
    """
    payload = load_envelope(data, "weights")
    try:
        state = flax.serialization.msgpack_restore(payload)
    except Exception as error:
        raise SerializationError(
            "Weights payload is not valid msgpack: "
            f"{str(error).rstrip('.') or type(error).__name__}."
        ) from error
    trainable_and_analog = {
        name: template[name] for name in SAVED_COLLECTIONS if name in template
    }
    expected = flax.serialization.to_state_dict(trainable_and_analog)
    _check_shapes(expected, state, ())
    restored = flax.serialization.from_state_dict(trainable_and_analog, state)
    return {**template, **restored}


def _check_shapes(expected: Any, actual: Any, path: tuple[str, ...]) -> None:
    where = "/".join(path) or "<root>"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            raise SerializationError(f"Weights at {where!r} are not a mapping.")
        missing = sorted(set(expected) - set(actual))
        extra = sorted(set(actual) - set(expected))
        if missing or extra:
            raise SerializationError(
                f"Weights at {where!r} do not fit the model: missing {missing}, unexpected {extra}."
            )
        for name in expected:
            _check_shapes(expected[name], actual[name], (*path, str(name)))
        return
    want = np.shape(expected)
    got = np.shape(actual)
    if want != got:
        raise SerializationError(
            f"Weights at {where!r} have shape {got}, the model expects {want}."
        )
    want_dtype = np.asarray(expected).dtype
    got_dtype = np.asarray(actual).dtype
    if want_dtype != got_dtype:
        raise SerializationError(
            f"Weights at {where!r} have dtype {got_dtype}, the model expects {want_dtype}."
        )
