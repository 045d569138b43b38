"""Dagster run config derived from the domain's config dataclasses: every setting is defined once.

The domain library defines each setting as a field of a frozen dataclass named ``...Config``, with a default and a
docstring (an attribute docstring, or an ``Attributes:`` section). :func:`run_config` derives the ``dg.Config``
that the Dagster UI shows and validates: the same names and defaults, the docstrings as descriptions, nested
dataclasses as nested config, tuples as lists. ``to_domain()`` builds the dataclass back, so the domain's own
validation (``__post_init__``) runs on what a person typed in the launchpad. A test checks that every run config
matches its dataclass, so a field added to the domain can never be forgotten here.

Dagster cannot take a dataclass as config, and a hand-written copy of each field (what this replaces) drifts.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, ClassVar

import dagster as dg
import docstring_parser
import pydantic


def field_descriptions(domain: type) -> dict[str, str]:
    """Field name -> description, from the class's ``Attributes:`` section and its attribute docstrings."""
    descriptions: dict[str, str] = {}
    for param in docstring_parser.parse_from_object(domain).params:
        for name in param.arg_name.split(","):
            descriptions[name.strip()] = " ".join((param.description or "").split())
    return descriptions


def run_config(domain: type, *, name: str | None = None) -> type[dg.Config]:
    """A ``dg.Config`` class with ``domain``'s fields; its ``to_domain()`` returns a ``domain`` instance.

    Named ``<Domain>RunConfig`` (``CleaningConfig`` -> ``CleaningRunConfig``) unless ``name`` is given. Subclass
    it to add settings that only the Dagster layer has (they are left out of ``to_domain()``)."""
    if not dataclasses.is_dataclass(domain):
        raise TypeError(f"{domain!r} is not a dataclass")
    hints = typing.get_type_hints(domain)
    descriptions = field_descriptions(domain)
    fields: dict[str, Any] = {}
    for item in dataclasses.fields(domain):
        annotation, default = _config_field(hints[item.name], _default_of(item))
        # validate_default turns a nested default given as a dict (see _config_field) into its config object.
        field = pydantic.Field(default=default, description=descriptions.get(item.name), validate_default=True)
        fields[item.name] = (annotation, field)
    class_name = name or domain.__name__.removesuffix("Config") + "RunConfig"
    config = pydantic.create_model(class_name, __base__=_DomainRunConfig, __doc__=domain.__doc__, **fields)
    config.domain = domain
    return config


class _DomainRunConfig(dg.Config):
    """The base of derived run configs: the way back to the domain dataclass."""

    domain: ClassVar[type]

    def to_domain(self) -> Any:
        values = {}
        for item in dataclasses.fields(self.domain):
            value = getattr(self, item.name)
            if isinstance(value, _DomainRunConfig):
                value = value.to_domain()
            elif isinstance(value, list) and _is_tuple(typing.get_type_hints(self.domain)[item.name]):
                value = tuple(value)
            values[item.name] = value
        return self.domain(**values)


def _default_of(item: dataclasses.Field) -> Any:
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    raise TypeError(f"field {item.name!r} has no default: a run config needs one for every setting")


def _config_field(annotation: Any, default: Any) -> tuple[Any, Any]:
    """The config annotation and default of one dataclass field (run configs are frozen: defaults are shared)."""
    optional = type(None) in typing.get_args(annotation)
    (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)] if optional else (annotation,)
    if dataclasses.is_dataclass(inner):
        nested = run_config(inner)
        if not optional:
            return nested, nested(**_as_config_values(default))
        # Dagster shows an optional nested config's default only when it is given as a plain dict.
        return nested | None, None if default is None else _as_config_values(default)
    if _is_tuple(annotation):
        (item, *_rest) = typing.get_args(annotation) or (Any,)
        return list[item], list(default)
    return annotation, default


def _as_config_values(instance: Any) -> dict[str, Any]:
    """A dataclass instance as the keyword arguments of its derived config (nested ones as dicts)."""
    values = {}
    for item in dataclasses.fields(instance):
        value = getattr(instance, item.name)
        values[item.name] = (
            _as_config_values(value)
            if dataclasses.is_dataclass(value)
            else list(value)
            if isinstance(value, tuple)
            else value
        )
    return values


def _is_tuple(annotation: Any) -> bool:
    return typing.get_origin(annotation) is tuple or annotation is tuple
