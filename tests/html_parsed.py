"""Markup read as a browser reads it: the tags, their attributes and the text."""

from __future__ import annotations

from html.parser import HTMLParser


class Parsed(HTMLParser):
    """The tags, attributes and text of a card, as a browser would read them."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def attribute(self, tag: str, name: str) -> list[str | None]:
        return [attrs.get(name) for t, attrs in self.tags if t == tag and name in attrs]
