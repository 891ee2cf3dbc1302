"""Configuration errors: MNE-style messages with the allowed keys or values and a close match.

:func:`format_validation_error` turns a pydantic ``ValidationError`` of a section model into
one message per problem ("Invalid key(s) ['max_epoch'] in the 'trainer' section. Allowed keys
are [...]. Did you mean 'max_epochs' for 'max_epoch'?", "Invalid value for the
'trainer.max_epochs' parameter: expected int or null, but got 'ten' (str).").
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ValidationError


class ConfigError(ValueError):
    """An invalid job configuration (the message names the key and what is allowed)."""


#: Devices a torch computation can run on.
DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"
#: Experiment names (a folder name under paths.runs_dir).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
#: How the messages describe the values a pattern allows.
PATTERN_NAMES = {DEVICE_PATTERN: "'auto', 'cpu', 'cuda' or 'cuda:<index>'",
                 NAME_PATTERN: "names of letters, digits, '_', '.' and '-' (a folder name)"}


def closest(word: str, options: Sequence[str]) -> str | None:
    """The option closest to ``word`` (a case slip such as ``c`` for ``C`` included), or None."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    if not close:  # case slips (c -> C) are the commonest typos of short keys
        lower = {str(o).lower(): str(o) for o in options}
        close = [lower[c] for c in difflib.get_close_matches(str(word).lower(), list(lower),
                                                             n=1)]
    return close[0] if close else None


def _member(annotation: Any, tag: Any = None) -> type[BaseModel] | None:
    """The section model inside ``annotation`` (Optional, list or union member).

    ``tag`` picks a union member: its class name (pydantic's tag for plain unions) or the
    default of its ``name`` field (the protocol name of a discriminated union).
    """
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        name = annotation.model_fields.get("name")
        if tag is None or tag == annotation.__name__ or (name is not None
                                                         and name.default == tag):
            return annotation
        return None
    for arg in typing.get_args(annotation):
        found = _member(arg, tag)
        if found is not None:
            return found
    return None


def _locate(root: type[BaseModel], loc: tuple[Any, ...], extra: bool
            ) -> tuple[str, type[BaseModel] | None, Any]:
    """Return the dotted key, the section model holding it and the field's annotation.

    ``extra``: the last item of ``loc`` is an unknown key (not a field). Items that are neither
    fields nor list indices are union tags and are skipped.
    """
    parts: list[str] = []
    model: type[BaseModel] | None = root
    container: type[BaseModel] | None = None
    annotation: Any = None
    for item in loc[:-1] if extra else loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif model is not None and item in model.model_fields:
            parts.append(str(item))
            container, annotation = model, model.model_fields[item].annotation
            model = _member(annotation)
        elif annotation is not None and _member(annotation, item) is not None:
            model = _member(annotation, item)
    if extra:
        parts.append(str(loc[-1]))
        container = model
    return ".".join(parts).replace(".[", "["), container, annotation


def describe(annotation: Any) -> str:
    """Readable name of an annotation: ``int or null``, ``list of int``, ..."""
    if annotation is None or annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return describe(args[0])
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin in (list, tuple, Sequence):
        return f"list of {describe(args[0])}" if args else "list"
    if origin in (dict, Mapping):
        return "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def _section_name(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key else ""


def format_validation_error(err: ValidationError, root: type[BaseModel]) -> str:
    """Turn a pydantic error of the ``root`` model into MNE-style messages, one per problem."""
    unknown: dict[str, tuple[list[str], list[str]]] = {}
    messages: list[str] = []
    seen: set[str] = set()
    for e in err.errors():
        kind = e["type"]
        key, container, annotation = _locate(root, tuple(e["loc"]), kind == "extra_forbidden")
        if kind == "extra_forbidden":
            section = _section_name(key)
            allowed = sorted(container.model_fields) if container is not None else []
            unknown.setdefault(section, ([], allowed))[0].append(key.rsplit(".", 1)[-1])
            continue
        field_key = key
        if field_key in seen:
            continue  # a union reports one error per member: keep the first
        seen.add(field_key)
        value = e.get("input")
        if kind == "value_error":
            messages.append(str(e["ctx"]["error"]))
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            ctx = e.get("ctx", {})
            allowed = sorted(re.findall(r"'([^']*)'", str(ctx.get("expected_tags", ""))))
            tag = str(ctx.get("discriminator", "name")).strip("'")
            messages.append(choice_message(f"{field_key}.{tag}", ctx.get("tag"), allowed))
        elif kind == "literal_error":
            choices = list(typing.get_args(literal_of(annotation)))
            messages.append(choice_message(field_key, value, choices))
        elif kind == "missing":
            messages.append(f"Missing value for the '{field_key}' parameter: it is required "
                            f"({describe(annotation)}).")
        elif kind == "string_pattern_mismatch":
            allowed = PATTERN_NAMES.get(e["ctx"]["pattern"], f"matching {e['ctx']['pattern']!r}")
            messages.append(f"Invalid value for the '{field_key}' parameter. Allowed values are "
                            f"{allowed}, but got {value!r}.")
        elif kind in ("greater_than_equal", "greater_than", "too_short"):
            messages.append(f"Invalid value for the '{field_key}' parameter: {e['msg']}, "
                            f"but got {value!r}.")
        else:
            messages.append(f"Invalid value for the '{field_key}' parameter: expected "
                            f"{describe(annotation)}, but got {value!r} "
                            f"({type(value).__name__}).")
    for section, (keys, allowed) in unknown.items():
        where = f"the '{section}' section" if section else "the top level of the config"
        hints = "".join(f" Did you mean {c!r} for {k!r}?" for k in sorted(keys)
                        if (c := closest(k, allowed)))
        messages.insert(0, f"Invalid key(s) {sorted(keys)} in {where}. Allowed keys are "
                           f"{allowed}.{hints}")
    return join_messages(messages)


def literal_of(annotation: Any) -> Any:
    """The ``Literal[...]`` inside an annotation (Optional, union), or None."""
    if typing.get_origin(annotation) is Literal:
        return annotation
    for arg in typing.get_args(annotation):
        found = literal_of(arg)
        if found is not None:
            return found
    return None


def choice_message(key: str, value: Any, allowed: Sequence[Any]) -> str:
    """"Invalid value for the '<key>' parameter. Allowed values are [...], but got ..."."""
    close = closest(str(value), [str(a) for a in allowed])
    hint = f" Did you mean {close!r}?" if close else ""
    return (f"Invalid value for the '{key}' parameter. Allowed values are {list(allowed)}, "
            f"but got {value!r}.{hint}")


def join_messages(messages: list[str]) -> str:
    """One message as it is; several as a count and a list."""
    if len(messages) == 1:
        return messages[0]
    return f"{len(messages)} configuration errors:\n" + "\n".join(f"- {m}" for m in messages)
