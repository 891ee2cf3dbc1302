"""Path templates with plain ``{field}`` substitution only (recipe companion files).

:meth:`str.format` evaluates attribute and index access inside a replacement field
(``{subject.__class__.__mro__}``, ``{subject[0]}``) and format specifications; a template read
from a recipe must not reach Python objects that way. :func:`fill_template` accepts only plain
``{name}`` fields (an identifier, no ``.``/``[]`` access, conversion or format specification)
and ``{{`` / ``}}`` for literal braces.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

_FORMATTER = string.Formatter()


class TemplateError(ValueError):
    """A template uses more than plain ``{field}`` names, or a field that is not given."""


def template_fields(template: str) -> list[str]:
    """Return the field names of ``template``, in order.

    Raises
    ------
    TemplateError
        If the template is malformed or a field is not a plain identifier (attribute or
        index access, a conversion such as ``!r`` or a format specification such as ``:>3``).
    """
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as err:
        raise TemplateError(f"template {template!r} is malformed ({err}).") from None
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + \
                (f":{spec}" if spec else "") + "}"
            raise TemplateError(
                f"template {template!r}: field {shown} is not a plain {{name}} field; only "
                "identifiers are allowed (no attribute or index access, conversion or format "
                "specification).")
        names.append(name)
    return names


def fill_template(template: str, fields: Mapping[str, str]) -> str:
    """Return ``template`` with each plain ``{name}`` replaced by ``fields[name]``.

    Raises
    ------
    TemplateError
        If a field is not plain (:func:`template_fields`) or not in ``fields``.
    """
    out = []
    template_fields(template)
    for literal, name, _, _ in _FORMATTER.parse(template):
        out.append(literal)
        if name is None:
            continue
        if name not in fields:
            raise TemplateError(f"template {template!r} uses the field {{{name}}}, which is "
                                f"not given; allowed fields are {sorted(fields)}.")
        out.append(str(fields[name]))
    return "".join(out)
