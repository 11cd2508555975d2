"""The one encoding of cached values: compact, key-sorted JSON in UTF-8.

Every layer stores its values this way, in memory and in Redis alike, so
an entry written by one service process reads the same in another, and
the size that bounds a memory backend is the size Redis would hold.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


def encode_json(value: Any) -> bytes:
    """``value`` as compact JSON with sorted keys, in UTF-8.

    Raises
    ------
    ValueError
        If ``value`` holds a NaN or an infinity: standard JSON has no
        spelling for them. Write an unbounded time as ``None`` first,
        as :mod:`engine.codec` does.
    TypeError
        If ``value`` holds something JSON cannot represent (a tuple
        becomes a list; a NumPy array must be converted with
        ``tolist()``).
    """
    text = json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return text.encode("utf-8")


def decode_json(data: bytes) -> Any:
    """The value that :func:`encode_json` wrote as ``data``."""
    return json.loads(data.decode("utf-8"))


def json_codec() -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]]:
    """The encoder and decoder that every layer of
    :class:`~engine.cache.Caches` uses.

    Values are JSON data: mappings with string keys, lists, strings,
    finite numbers, booleans and None. Tuples come back as lists, so a
    plan is stored as :meth:`~engine.model.Plan.to_dict` and rebuilt
    with :func:`~engine.codec.plan_from_dict`.
    """
    return encode_json, decode_json
