"""A minimal scripted browser: follows redirects, keeps cookies, reads and submits HTML forms.

Stands in for the person at the keyboard in the demo and the end-to-end tests:
it sees exactly the pages a person sees (auth's landing, chooser and outcome
pages, the sandbox's sign-in and consent pages) and submits them the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str | list[str]] = field(default_factory=dict)
    """Field values; a group of checked checkboxes gives a list."""
    buttons: list[tuple[str | None, str | None, str]] = field(default_factory=list)
    """(name, value, label) of each submit button."""
    choices: dict[str, list[str]] = field(default_factory=dict)
    """Radio/select options per field name."""


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.title = ""
        self.text: list[str] = []
        self._in_title = False
        self._button: tuple[str | None, str | None] | None = None
        self._button_text: list[str] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "title":
            self._in_title = True
        elif tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        elif not self.forms:
            return
        elif tag == "input":
            form, kind, name = self.forms[-1], a.get("type", "text").lower(), a.get("name")
            if kind == "submit":
                form.buttons.append((name, a.get("value"), a.get("value", "")))
            elif name and kind in ("radio", "checkbox"):
                form.choices.setdefault(name, []).append(a.get("value", "on"))
                if "checked" in a and kind == "radio":
                    form.fields[name] = a.get("value", "on")
                elif "checked" in a:
                    current = form.fields.get(name)
                    values = current if isinstance(current, list) else []
                    form.fields[name] = [*values, a.get("value", "on")]
            elif name:
                form.fields[name] = a.get("value", "")
        elif tag == "button":
            self._button = (a.get("name"), a.get("value"))
            self._button_text = []
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            form = self.forms[-1]
            form.choices.setdefault(self._select, []).append(a.get("value", ""))
            if "selected" in a or self._select not in form.fields:
                form.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "button" and self._button is not None and self.forms:
            label = " ".join("".join(self._button_text).split())
            self.forms[-1].buttons.append((self._button[0], self._button[1], label))
            self._button = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._button is not None:
            self._button_text.append(data)
        self.text.append(data)


@dataclass
class Page:
    url: str
    status: int
    html: str
    title: str
    forms: list[Form]
    text: str

    def form(self, containing: str | None = None) -> Form:
        """The form with a field or button label containing ``containing`` (or the only one)."""
        if containing is None:
            if not self.forms:
                raise AssertionError(f"no form on {self.url} ({self.title}): {self.text[:300]}")
            return self.forms[0]
        for form in self.forms:
            labels = [b[2] or "" for b in form.buttons] + list(form.fields) + list(form.choices)
            if any(containing.lower() in label.lower() for label in labels):
                return form
        raise AssertionError(f"no form with {containing!r} on {self.url} ({self.title})")

    def links(self) -> list[str]:
        return [urljoin(self.url, h) for h in re.findall(r'href="([^"]+)"', self.html)]


class Browser:
    def __init__(self, timeout: float = 30.0) -> None:
        self.client = httpx.AsyncClient(follow_redirects=True, timeout=timeout)
        self.history: list[Page] = []

    async def close(self) -> None:
        await self.client.aclose()

    async def get(self, url: str) -> Page:
        return self._page(await self.client.get(url))

    async def submit(self, page: Page, form: Form, button: str | None = None,
                     **values: str | list[str]) -> Page:
        data: dict[str, str | list[str]] = dict(form.fields)
        data.update(values)
        if button is not None:
            for name, value, label in form.buttons:
                if button.lower() in (label or "").lower() or button == value:
                    if name:
                        data[name] = value or ""
                    break
            else:
                raise AssertionError(f"no button {button!r} in form on {page.url}")
        elif form.buttons and form.buttons[0][0]:
            data[form.buttons[0][0] or ""] = form.buttons[0][1] or ""
        target = urljoin(page.url, form.action or page.url)
        if form.method == "post":
            response = await self.client.post(target, data=data)
        else:
            response = await self.client.get(target, params=data)
        return self._page(response)

    def _page(self, response: httpx.Response) -> Page:
        parser = _FormParser()
        parser.feed(response.text)
        page = Page(str(response.url), response.status_code, response.text,
                    " ".join(parser.title.split()), parser.forms, " ".join("".join(parser.text).split()))
        self.history.append(page)
        return page
