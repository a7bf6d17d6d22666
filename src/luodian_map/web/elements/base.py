"""The base classes of the page's elements: folium ``MacroElement`` s with Jinja templates
(``templates/*.j2``), the way folium plugins are built."""

from __future__ import annotations

from typing import Any

from branca.element import Element, MacroElement

from ..templates import template


class Text(Element):
    """Rendered text that goes into the page as it is."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class Macro(MacroElement):
    """A MacroElement whose rendered parts are not read as templates once more: branca
    would, and report text with "{{" in it would be evaluated (or break the page)."""

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        figure = self.get_root()
        macros = self._template.module.__dict__
        for part in ("header", "html", "script"):
            if macros.get(part) is not None:
                text = Text(macros[part](self, kwargs))
                getattr(figure, part).add_child(text, name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


class AppElement(Macro):
    """An element of the page's app (:class:`~.feature_layers.FeatureLayers`): its template
    is ``_template_file`` and its keyword arguments are the control's options."""

    _template_file = ""

    def __init__(self, app: MacroElement, name: str, **options: Any) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = name
        self.app = app
        self.options = options
        self._template = template(self._template_file)
