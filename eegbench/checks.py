"""Generic configuration checks with MNE-style messages and "did you mean" (no eegbench imports).

Used wherever a mapping from the configuration enters code: unknown keys and values outside
an enumeration are errors that name the key, the allowed values and the closest match.
"""

from __future__ import annotations

import difflib
from typing import Any


def check_choice(key: str, value: Any, allowed: list[str] | tuple[str, ...]) -> Any:
    """Raise an MNE-style error if ``value`` is not in ``allowed`` (with "did you mean")."""
    if value not in allowed:
        close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Invalid value for the '{key}' parameter. Allowed values are "
                         f"{list(allowed)}, but got {value!r}.{hint}")
    return value


def check_keys(section: str, keys: list[str], allowed: list[str]) -> None:
    """Raise if ``keys`` holds a key not in ``allowed`` (with "did you mean")."""
    unknown = sorted(k for k in keys if k not in allowed)
    if unknown:
        hints = "".join(
            f" Did you mean {c[0]!r} for {k!r}?" for k in unknown
            if (c := difflib.get_close_matches(k, allowed, n=1)))
        raise ValueError(f"Invalid key(s) {unknown} in the '{section}' section. Allowed keys "
                         f"are {sorted(allowed)}.{hints}")
