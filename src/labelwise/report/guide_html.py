"""The labelling guide as one self-contained HTML page (inline CSS, no script, no network).

The guide itself is built by :func:`labelwise.generate.guide.labelling_guide` (paper 16, Chang et al., "Thinking
Like an Annotator", 2023); this module only renders it. Every string from the data is escaped by Jinja2's
autoescape; the template marks nothing ``|safe``.
"""

from __future__ import annotations

from pathlib import Path

from labelwise.data.atomic import write_text_atomic


def render_guide_html(guide) -> str:
    """The page for a :class:`~labelwise.generate.guide.LabellingGuide`, as a string."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    from labelwise import __version__
    from labelwise.generate.guide import audit_sentence, confusion_text, quality_sentence

    env = Environment(
        loader=PackageLoader("labelwise.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )
    env.globals.update(confusion_text=confusion_text, version=__version__)
    return env.get_template("guide.html.j2").render(g=guide, quality=quality_sentence(guide),
                                                       audit=audit_sentence(guide))


def write_guide(guide, directory) -> Path:
    """Write ``guide.md``, ``guide.json`` (:meth:`LabellingGuide.save`) and ``guide.html`` into ``directory``, each
    atomically. Returns the directory."""
    directory = guide.save(directory)
    write_text_atomic(Path(directory) / "guide.html", render_guide_html(guide))
    return Path(directory)
