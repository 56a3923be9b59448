"""A :class:`Taxonomy` (ordered categories, the use case they were made for, and how they were made) and its YAML
file: the form a person edits and gives back (``labelwise annotate --taxonomy``, ``induce_taxonomy(start=...)``).

``Taxonomy.save`` writes the file (atomically) and ``Taxonomy.load`` is its reader; ``from_yaml`` also accepts a
plain list of categories or names, or a mapping ``name: description``, and says what to fix when it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labelwise.data.atomic import write_text_atomic
from labelwise.errors import DataError
from labelwise.generate.taxonomy_categories import Category
from labelwise.generate.taxonomy_prompts import numbered


@dataclass
class Taxonomy:
    """An ordered list of categories, the use case they were made for, and how they were made."""

    categories: list
    use_case: str = ""
    settings: dict = field(default_factory=dict)

    @property
    def names(self) -> list:
        return [c.name for c in self.categories]

    def definitions(self) -> dict:
        """{name: description}."""
        return {c.name: c.description for c in self.categories}

    def __len__(self) -> int:
        return len(self.categories)

    def __repr__(self) -> str:
        shown = ", ".join(self.names[:8]) + (", ..." if len(self) > 8 else "")
        return f"Taxonomy({len(self)} categories: {shown})"

    def to_prompt(self) -> str:
        """The numbered ``name: description`` list used in prompts."""
        return numbered(self.categories)

    def to_yaml(self) -> str:
        import yaml

        body = {"use_case": self.use_case,
                "categories": [{"name": c.name, "description": c.description} for c in self.categories]}
        head = ("# A label taxonomy made by labelwise (TnT-LLM). Edit freely: rename, merge, delete or add categories,\n"
                "# then label with it: labelwise annotate DATA --text COL --taxonomy THIS_FILE\n")
        made = yaml.safe_dump({"made_with": self.settings}, sort_keys=False, allow_unicode=True, width=110)
        return head + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=110) + made

    def save(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, self.to_yaml())
        return path

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "the taxonomy") -> "Taxonomy":
        """Read YAML: ``{use_case, categories: [{name, description}]}``, a plain list of such items (or of names),
        or a mapping ``name: description``. Raises :class:`DataError` saying what to fix."""
        import yaml

        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise DataError(f"{source} is not valid YAML ({err}). Fix the file; its format is "
                            "'categories: [{name: ..., description: ...}]'.") from None
        use_case, settings = "", {}
        if isinstance(loaded, dict) and "categories" in loaded:
            use_case = str(loaded.get("use_case") or "")
            settings = loaded.get("made_with") or {}
            loaded = loaded["categories"]
        if isinstance(loaded, dict):
            loaded = [{"name": k, "description": v} for k, v in loaded.items()]
        if not isinstance(loaded, list):
            raise DataError(f"{source} has no list of categories. Write 'categories:' followed by items "
                            "'- name: ...' with 'description: ...'.")
        categories = []
        for i, item in enumerate(loaded, 1):
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, dict) or not str(item.get("name") or "").strip():
                raise DataError(f"{source}: category {i} has no name. Give every item a 'name:'.")
            categories.append(Category(" ".join(str(item["name"]).split()),
                                       " ".join(str(item.get("description") or "").split())))
        seen: dict = {}
        for c in categories:
            key = c.name.casefold()
            if key in seen:
                raise DataError(f"{source}: the name {c.name!r} appears twice. Merge the two categories or rename "
                                "one: labels must be distinct.")
            seen[key] = c
        if len(categories) < 2:
            raise DataError(f"{source} has {len(categories)} category; a taxonomy needs at least two.")
        return cls(categories, use_case, settings)

    @classmethod
    def load(cls, path) -> "Taxonomy":
        path = Path(path)
        if not path.is_file():
            raise DataError(f"Taxonomy file not found: {path}. Make one with: labelwise taxonomy DATA --text COL "
                            f"--out {path.name}")
        from labelwise.data.io import read_text_file

        return cls.from_yaml(read_text_file(path, "Taxonomy"), source=str(path))
