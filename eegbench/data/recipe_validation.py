"""Validate a recipe mapping into its typed model, with one MNE-style line per problem.

:func:`validate_recipe` is the only place a recipe is validated: it returns the
:class:`~eegbench.data.recipe_schema.RecipeModel` that :class:`~eegbench.data.recipe.Recipe`
keeps, or raises :class:`~eegbench.data.errors.RecipeError` naming the recipe file and the key
(``source.csv.jitter_tolerance_s``), what is allowed and what was found; an unknown key
suggests the closest known one ("did you mean 'sha256'?").
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from eegbench.data.errors import RecipeError
from eegbench.data.recipe_schema import RecipeModel


# -- error formatting -------------------------------------------------------------------------
def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the key at ``loc`` (to suggest known keys)."""
    model: Any = RecipeModel
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None)
        if field is None:
            return None
        model = _unwrap(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """The model class inside ``X | None`` or ``list[X]``, else the annotation."""
    for arg in getattr(annotation, "__args__", ()) or ():
        inner = _unwrap(arg)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return annotation


def _keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


#: How pydantic names the members of a union in an error's location (not recipe keys).
_UNION_TAG = re.compile(r"^(int|str|float|bool|none|constrained-\w+|(list|tuple|dict|literal|"
                        r"function-\w+|constrained-\w+)\[.*\])$")


def _recipe_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The location without pydantic's union-member tags: the recipe keys only."""
    return tuple(p for p in loc if not (isinstance(p, str) and _UNION_TAG.match(p)))


def format_errors(err: ValidationError, where: str) -> str:
    """One MNE-style line per validation problem, naming ``where`` (the recipe) and the key.

    A value that fits none of a union's members (``N`` or ``[min, max]``) gives one line
    listing what each member expects.
    """
    lines = []
    merged: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for item in err.errors():
        merged.setdefault(_recipe_loc(tuple(item["loc"])), []).append(item)
    for loc, items in merged.items():
        item = items[0]
        if len(items) > 1 and item["type"] not in ("extra_forbidden", "missing"):
            wanted = " or ".join(dict.fromkeys(i["msg"].removeprefix("Value error, ")
                                               for i in items))
            item = {**item, "msg": f"expected one of: {wanted}"}
        key = ".".join(str(p) for p in loc) or "<top level>"
        if item["type"] == "missing_keys":
            lines += [f"Missing required key {k!r} in {where}"
                      + (" (at the top level, or in each entry of 'tasks')." if "(task " not in
                         where else ".") for k in item["ctx"]["keys"]]
        elif not loc and item["type"] == "value_error":
            lines.append(f"Invalid recipe {where}: {item['msg'].removeprefix('Value error, ')}.")
        elif item["type"] == "extra_forbidden":
            model = _model_at(loc)
            known = _keys(model) if model else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            lines.append(f"Unknown key {key!r} in {where}.{hint} Allowed keys here are "
                         f"{known}.")
        elif item["type"] == "missing":
            lines.append(f"Missing required key {key!r} in {where}.")
        else:
            msg = item["msg"].removeprefix("Value error, ")
            lines.append(f"Invalid value for the {key!r} parameter in {where}: {msg}, but got "
                         f"{_short(item.get('input'))}.")
    return "\n".join(lines)


def validate_recipe(raw: Any, where: str) -> RecipeModel:
    """Validate a recipe mapping; raise :class:`RecipeError` listing every problem.

    Parameters
    ----------
    raw : Any
        The mapping read from the YAML file.
    where : str
        How to name the recipe in errors (its file, or its name).
    """
    if not isinstance(raw, dict):
        raise RecipeError(f"Recipe {where} must be a YAML mapping of sections (name, source, "
                          f"labels, ...), but got a {type(raw).__name__}.")
    try:
        return RecipeModel.model_validate(raw)
    except ValidationError as err:
        raise RecipeError(format_errors(err, where)) from None
