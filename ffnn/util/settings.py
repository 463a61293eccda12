"""Settings as dataclasses built from config mappings, with one coercion for all of them.

Training (:class:`ffnn.field.train.TrainConfig`), JSOC access (:class:`ffnn.io.jsoc.JsocSettings`)
and the flare forecast (:class:`ffnn.forecast.classify.ClassifySettings`) each hold their settings
in a dataclass whose field annotations say what a value must be. :func:`from_mapping`
builds one from a config mapping (YAML, ``--set KEY=VALUE``, the workflow's config): an
unknown key, or a value that is not of its field's type, is a
:class:`~ffnn.util.errors.ConfigError` of one line naming the setting. Ranges and choices are
the dataclass's own check (``__post_init__`` or ``validate``).

Settings come from YAML: :func:`read_yaml` reads a file (a syntax error is one line naming
the file, the line and, for the commonest one, the tab that YAML refuses as indentation),
:func:`gather` merges a command's ``--config`` (a file or an inline mapping, the whole of it
or its ``section:``), its ``KEY=VALUE`` options (:func:`assignments`) and its own options.

Coercion, by annotation: ``bool`` takes true/false and yes/no/on/off/1/0 as text;
``int`` takes whole numbers only (1.0 but not 1.5, never a bool); ``float`` any number
(never a bool); ``str`` text only (a YAML date as its ISO text); ``tuple[str, ...]`` a list of names or one
comma-separated text, duplicates dropped; ``X | None`` also takes null (None, or the
text ``none``/``null``/empty).
"""

from __future__ import annotations

import datetime
import json
import math
import re
from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping

from ffnn.util.errors import ConfigError

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_NULL = ("", "none", "null")


def coerce(value: Any, annotation: str) -> Any:
    """``value`` as the type named by the field annotation ``annotation`` (text, e.g.
    ``"int | None"``); raises TypeError or ValueError when it is not one."""
    kinds = str(annotation)
    if "None" in kinds and (value is None or (isinstance(value, str) and value.strip().lower() in _NULL)):
        return None
    if kinds.startswith("tuple"):
        if value is None:
            return ()
        if isinstance(value, str):
            value = [v for v in (p.strip() for p in value.split(",")) if v]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise TypeError(value)
        return tuple(dict.fromkeys(value))
    if "bool" in kinds:
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE + _FALSE:
                return text in _TRUE
            raise ValueError(value)
        return bool(value)
    if isinstance(value, bool):  # YAML's yes/no where a number belongs: a mistake
        raise TypeError(value)
    if "int" in kinds and "float" not in kinds:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value)
    if "float" in kinds:
        return float(value)
    if isinstance(value, (datetime.date, datetime.time)):  # YAML reads 2014-01-01 as a date
        return value.isoformat()
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def from_mapping(cls, mapping: Mapping[str, Any] | None, what: str, ignore=()):
    """An instance of the dataclass ``cls`` from ``mapping`` (keys are its fields).

    ``what`` names a setting in messages (``"training setting"``); keys in ``ignore`` are
    accepted and left out. Raises ConfigError for an unknown key or a value of the wrong
    type; the dataclass's own checks raise theirs.
    """
    values = dict(mapping or {})
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known) - set(ignore))
    if unknown:
        raise ConfigError(f"unknown {what}(s) {unknown}; known: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        if name not in known:
            continue
        try:
            kwargs[name] = coerce(value, known[name].type)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{what} {name}={value!r} is not of type {known[name].type}") from None
    return cls(**kwargs)


# ---------------------------------------------------------------- JSON schemas (the workflow's config, sheets)
# Schemas are YAML files (workflow/schemas/), read with :func:`read_yaml`.

def schema_message(err, what: str) -> str:
    """One line for a jsonschema ``ValidationError`` ``err`` in ``what`` (a config or a
    sheet row): the unknown keys with the allowed ones, a missing key,
    or the offending value with the schema's complaint."""
    path = [str(p) for p in err.absolute_path]
    where = ".".join(path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        known = sorted(err.schema.get("properties", {}))
        patterns = list(err.schema.get("patternProperties", {}))
        unknown = sorted(
            k for k in err.instance
            if k not in known and not any(re.search(p, k) for p in patterns)
        )
        inside = f" in '{where}'" if where else ""
        allowed = ", ".join(known + [f"/{p}/" for p in patterns])
        return (f"{what}: unknown key(s) {', '.join(repr(k) for k in unknown)}{inside}; "
                f"allowed: {allowed}")
    if err.validator == "required":
        return f"{what} {where}: {err.message}" if where else f"{what}: {err.message}"
    value = json.dumps(err.instance, default=str)
    return f"{what}: {where or 'top level'} = {value}: {err.message}"


def coerce_schema(data: Any, schema: dict, root: dict | None = None) -> Any:
    """``data`` with its texts read as the types ``schema`` asks for, where it asks for no text.

    Snakemake hands a nested ``--config`` value (``'train={time_budget_s: 5}'``) over as
    text, a top-level one (``regions=null``) too; the config file's values come typed. A
    text where the schema wants no text is read as YAML (``"5"`` -> 5, ``"true"`` -> True,
    ``"null"`` -> None), so inline values are checked like the file's; where text is
    allowed too, only ``null``/``none``/empty (when null is allowed) and ``true``/``false``
    (when a boolean is) are read. Texts that read as nothing of the kind stay text, for
    :func:`validate` to name. Returns a new value; mappings and lists are walked with their
    ``properties``/``additionalProperties``/``items`` (``$ref`` to ``#/$defs/...`` followed).
    """
    import yaml

    root = schema if root is None else root
    ref = schema.get("$ref", "")
    if ref.startswith("#/"):
        target = root
        for part in ref[2:].split("/"):
            target = target.get(part, {})
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    if isinstance(data, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {k: coerce_schema(v, props.get(k, extra if isinstance(extra, dict) else {}), root)
                for k, v in data.items()}
    if isinstance(data, list):
        items = schema.get("items")
        return [coerce_schema(v, items, root) for v in data] if isinstance(items, dict) else data
    if not isinstance(data, str):
        return data
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    if "enum" in schema and None in schema["enum"]:
        kinds.append("null")
    text = data.strip().lower()
    if "string" in kinds or (not kinds and "enum" in schema):
        if "null" in kinds and text in _NULL:
            return None
        if "boolean" in kinds and text in ("true", "false"):
            return text == "true"
        return data
    if not kinds:
        return data
    try:
        value = yaml.safe_load(data)
    except yaml.YAMLError:
        return data
    if "null" in kinds and text in _NULL:
        return None
    if isinstance(value, str) and {"number", "integer"} & set(kinds):
        for number in (int, float):  # PyYAML reads 1e3 (no dot) as text
            try:
                return number(text)
            except ValueError:
                pass
    return data if isinstance(value, str) or value is None else value


def _check_finite(data: Any, what: str, path: tuple = ()) -> None:
    """ConfigError naming the first NaN or infinite number in ``data`` (JSON schema's
    ranges let NaN through: every comparison with it is false)."""
    if isinstance(data, dict):
        for key, value in data.items():
            _check_finite(value, what, (*path, str(key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _check_finite(value, what, (*path, str(i)))
    elif isinstance(data, float) and not math.isfinite(data):
        raise ConfigError(f"{what}: {'.'.join(path) or 'top level'} = {data}: not a finite number")


def validate(data: dict, schema: dict, what: str, *, defaults: bool = False) -> None:
    """Check ``data`` against ``schema``; ConfigError with :func:`schema_message` of the
    first error (the one Snakemake's ``validate`` reports); a NaN or infinite number is one
    too. With ``defaults``, first fill
    in the ``default`` of every property the data leave out, in place (as Snakemake's
    ``snakemake.utils.validate`` does, so the workflow's config comes out the same)."""
    import jsonschema

    _check_finite(data, what)
    cls = jsonschema.validators.validator_for(schema)
    if defaults:
        properties = cls.VALIDATORS["properties"]

        def fill(validator, props, instance, subschema):
            if isinstance(instance, dict):
                for name, sub in props.items():
                    if "default" in sub:
                        instance.setdefault(name, sub["default"])
            yield from properties(validator, props, instance, subschema)

        cls = jsonschema.validators.extend(cls, {"properties": fill})
    error = next(iter(cls(schema).iter_errors(data)), None)
    if error is not None:
        raise ConfigError(schema_message(error, what))


# ---------------------------------------------------------------- YAML

def yaml_error(err, where: str) -> str:
    """One line for a PyYAML error in ``where`` (a file name or ``"mapping"``): the line
    (1-based) and the problem, a tab named as such."""
    mark = getattr(err, "problem_mark", None)
    line = f" line {mark.line + 1}" if mark is not None else ""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    if "'\\t'" in problem:
        problem = "a tab character; YAML indents with spaces only"
    return f"{where}{line}: {problem}"


def _duplicate_key(node, path=()) -> tuple | None:
    """(key path, first line, second line) of the first key that appears twice in one
    mapping of the composed YAML ``node``, or None (lines 1-based)."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                line = key_node.start_mark.line + 1
                if key_node.value in seen:
                    return (*path, key_node.value), seen[key_node.value], line
                seen[key_node.value] = line
            found = _duplicate_key(value_node, (*path, str(getattr(key_node, "value", "?"))))
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _duplicate_key(item, (*path, str(i)))
            if found:
                return found
    return None


def load_yaml(text: str, where: str) -> Any:
    """The YAML document in ``text`` (from ``where``: a file name or ``"config mapping"``).

    ConfigError of one line for a syntax error (:func:`yaml_error`) or a key given twice
    in one mapping: PyYAML (and Snakemake) keep the last of the two silently, so a second
    ``train:`` block would replace the first whole."""
    import yaml

    try:
        found = _duplicate_key(yaml.compose(text, Loader=yaml.SafeLoader))
        if found:
            key, first, second = found
            raise ConfigError(f"{where}: key '{'.'.join(key)}' appears twice, on lines {first} and {second}; "
                              f"YAML would keep only the second: merge the two")
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(yaml_error(err, where)) from None


def read_yaml(path) -> Any:
    """The YAML document in the file ``path``; ConfigError of one line naming the file and
    the line of a syntax error or of a key given twice (:func:`load_yaml`), or a missing file."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
    return load_yaml(text, str(path))


def config_section(source, section: str, *, whole: bool = True) -> dict:
    """The settings mapping in ``source``: a YAML file, or an inline mapping (text starting
    with ``{``, YAML or JSON); its ``section:`` block when it has one, else all of it (or,
    with ``whole`` false, nothing if it is a file of other sections: one whose top level
    holds a mapping). None or empty gives {}."""
    if not source:
        return {}
    inline = str(source).lstrip().startswith("{")
    if inline:
        data = load_yaml(str(source), "config mapping")
    else:
        data = read_yaml(source)
    if isinstance(data, dict) and section in data:
        data = data[section]
    elif not whole and isinstance(data, dict) and any(isinstance(v, dict) for v in data.values()):
        data = None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {'mapping' if inline else source} does not hold a mapping of {section} settings")
    return dict(data)


def assignments(items, option: str = "--set") -> dict:
    """``KEY=VALUE`` texts as a mapping, each value read as YAML (``3``, ``true``, ``null``,
    ``[1, 2]``); a value YAML cannot read, or reads as something other than plain data (a
    date, say), stays text."""
    import yaml

    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"{option} expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
        out[key.strip()] = parsed if isinstance(parsed, (type(None), bool, int, float, str, list, dict)) else value
    return out


def gather(source, section: str, overrides=(), *, whole: bool = True, **options) -> dict:
    """Settings of one kind, later ones winning: the ``section`` of ``--config`` ``source``
    (:func:`config_section`), ``KEY=VALUE`` ``overrides``, then ``options`` that are not None."""
    values = config_section(source, section, whole=whole)
    values.update(assignments(overrides))
    values.update({k: v for k, v in options.items() if v is not None})
    return values
