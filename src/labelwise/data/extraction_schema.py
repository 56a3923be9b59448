"""The schema file of ``labelwise extract``: which fields to read from each row's text (TAIL) and which product
attributes to predict (HyperPAVE).

```yaml
name: receipt                 # optional
instruction: |                # optional task-level instruction
  Extract the header fields of a shop receipt.
fields:                       # free-text values read from each row's text
  merchant: {description: "the shop's name as printed", type: string}
  date: {description: "date of purchase", type: date}          # normalised to YYYY-MM-DD
  total: {description: "amount paid", type: number}
  currency: {description: "ISO code", type: string, values: [EUR, USD]}   # a closed set
attributes:                   # attribute -> known values (multi-label; new values zero-shot)
  color: [red, blue, teal]
```

A field may also be written as a bare description (``merchant: "the shop's name"``, type string). ``required:
true`` marks a field every document has (the prompt then asks for it without offering null). Every problem is one
:class:`DataError` naming the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from labelwise.errors import DataError

FIELD_TYPES = ("string", "number", "integer", "date")
#: the columns of ``labelwise extract``'s table, one line per extracted value: fields (TAIL) and attribute values
#: (HyperPAVE) write the same ones, so the command concatenates them
FRAME_COLUMNS = ["row", "kind", "name", "value", "start", "end", "confidence", "source"]
_FIELD_KEYS = {"description", "type", "values", "required"}
_TOP_KEYS = {"name", "instruction", "fields", "attributes"}


@dataclass(frozen=True)
class FieldSpec:
    """One field: ``type`` is one of ``string | number | integer | date``; ``values`` a closed set (or None)."""

    name: str
    description: str = ""
    type: str = "string"
    values: Optional[tuple] = None
    required: bool = False


@dataclass
class ExtractionSchema:
    """``fields``: name -> :class:`FieldSpec` (in file order); ``attributes``: attribute -> known values."""

    name: str = "extraction"
    instruction: str = ""
    fields: dict = field(default_factory=dict)
    attributes: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"ExtractionSchema({self.name!r}: fields {', '.join(self.fields) or '-'}; "
                f"attributes {', '.join(self.attributes) or '-'})")


def read_schema(path) -> ExtractionSchema:
    """The schema in the YAML file at ``path``. Raises :class:`DataError` (file and key named) when it is missing,
    not YAML, or not the format above."""
    from labelwise.data.io import read_text_file

    path = Path(path)
    if not path.is_file():
        raise DataError(f"Schema file not found: {path}. Give a YAML file with 'fields:' (and/or 'attributes:').")
    return schema_from_yaml(read_text_file(path, "Schema"), source=str(path))


def schema_from_yaml(text: str, *, source: str = "the schema") -> ExtractionSchema:
    """Parse the YAML ``text`` of a schema (``source`` names it in errors)."""
    import yaml

    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise DataError(f"{source} is not valid YAML ({' '.join(str(err).split())}). Fix the file.") from None
    return schema_from_dict(loaded, source=source)


def schema_from_dict(loaded, *, source: str = "the schema") -> ExtractionSchema:
    """A schema from the mapping a YAML file holds (see the module docstring)."""
    if not isinstance(loaded, dict):
        raise DataError(f"{source} is not a mapping; write 'fields:' with one 'name: {{description: ..., type: ...}}' "
                        "per field (and/or 'attributes:').")
    unknown = sorted(set(map(str, loaded)) - _TOP_KEYS)
    if unknown:
        raise DataError(f"{source}: unknown key {unknown[0]!r}; a schema has {', '.join(sorted(_TOP_KEYS))}.")
    raw_fields, raw_attributes = loaded.get("fields") or {}, loaded.get("attributes") or {}
    if not raw_fields and not raw_attributes:
        raise DataError(f"{source} has neither 'fields' nor 'attributes'; give at least one.")
    if not isinstance(raw_fields, dict):
        raise DataError(f"{source}: 'fields' must map each field name to its description or "
                        "{description, type, values, required}.")
    if not isinstance(raw_attributes, dict):
        raise DataError(f"{source}: 'attributes' must map each attribute to its list of values.")
    fields = {}
    for name, spec in raw_fields.items():
        fields[str(name)] = _field(str(name), spec, source)
    attributes = {}
    for name, values in raw_attributes.items():
        where = f"{source}: attributes.{name}"
        if not str(name).strip() or ":" in str(name) or ";" in str(name):
            raise DataError(f"{where}: an attribute name is non-empty and has no ':' or ';' (known values are written "
                            "'attr: value; attr: value').")
        if not isinstance(values, list) or not values:
            raise DataError(f"{where} must be a non-empty list of values, e.g. [red, blue].")
        if any(v is None or isinstance(v, (dict, list)) for v in values):
            raise DataError(f"{where} holds a value that is not a plain word or number.")
        names = [str(v).strip() for v in values]
        if any(not v or ";" in v for v in names):
            raise DataError(f"{where} holds an empty value or one with ';' (known values are separated by ';'); "
                            "remove or rename it.")
        if len(set(names)) != len(names):
            raise DataError(f"{where} lists a value twice; list each value once.")
        attributes[str(name)] = names
    for key in ("name", "instruction"):
        if isinstance(loaded.get(key), (dict, list)):
            raise DataError(f"{source}: '{key}' must be text.")
    return ExtractionSchema(str(loaded.get("name") or "extraction"), str(loaded.get("instruction") or "").strip(),
                            fields, attributes)


def _field(name: str, spec, source: str) -> FieldSpec:
    where = f"{source}: fields.{name}"
    if not name.strip() or not name.replace("_", "a").isalnum():
        raise DataError(f"{where}: a field name is letters, digits and underscores only (it becomes a JSON key).")
    if spec is None or isinstance(spec, str):
        return FieldSpec(name, str(spec or "").strip())
    if not isinstance(spec, dict):
        raise DataError(f"{where} must be a description or a mapping {{description, type, values, required}}.")
    unknown = sorted(set(map(str, spec)) - _FIELD_KEYS)
    if unknown:
        raise DataError(f"{where}: unknown key {unknown[0]!r}; a field has {', '.join(sorted(_FIELD_KEYS))}.")
    kind = str(spec.get("type") or "string")
    if kind not in FIELD_TYPES:
        raise DataError(f"{where}.type is {kind!r}; use one of {', '.join(FIELD_TYPES)}.")
    values = spec.get("values")
    if values is not None:
        if not isinstance(values, list) or not values or any(isinstance(v, (dict, list)) or v is None for v in values):
            raise DataError(f"{where}.values must be a non-empty list of plain values, e.g. [EUR, USD].")
        values = tuple(str(v).strip() for v in values)
        if not all(values):
            raise DataError(f"{where}.values holds an empty value; remove it (null already stands for absent).")
        if len(set(values)) != len(values):
            raise DataError(f"{where}.values lists a value twice.")
    required = spec.get("required", False)
    if not isinstance(required, bool):
        raise DataError(f"{where}.required must be true or false.")
    description = spec.get("description") or ""
    if isinstance(description, (dict, list)):
        raise DataError(f"{where}.description must be text.")
    return FieldSpec(name, str(description).strip(), kind, values, required)
