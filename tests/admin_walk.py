"""Walks the admin as one user: every page the user may open, with the texts
a reader takes as the interface (headings, column titles, field labels,
filter titles, actions, buttons), and checks them against the catalogues.

Used by tests/test_admin_console.py; kept apart so a new page is one line."""

from __future__ import annotations

import gettext
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch, reverse

# Elements whose text is interface, not data. Table cells hold data (product
# names are the merchant's own text), so only header cells count, and only in
# a table's head: a change list's first column is a <th> holding the row's name.
INTERFACE = {"h1", "h2", "h3", "label", "summary", "caption", "button", "legend"}
# Words that read the same in every language here: codes, units, currencies.
ALLOWED = {
    "ID",
    "SKU",
    "CNY",
    "RUB",
    "EUR",
    "HS",
    "URL",
    "S10",
    "CN 23",
    "INN",
    "Email",
    "OK",
}


@dataclass
class Page:
    url: str
    status: int
    texts: list[str] = field(default_factory=list)
    html: str = ""


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self._buffer: list[list[str]] = []

    def _interface(self, tag: str, attrs: dict[str, str | None]) -> bool:
        if tag in INTERFACE:
            return True
        if tag == "th":
            return any(t == "thead" for t, _a in self.stack)
        if tag == "option":
            # The action drop-down's choices.
            return any(t == "select" and a.get("name") == "action" for t, a in self.stack)
        return False

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        if tag == "input" and attrs.get("type") == "submit" and attrs.get("value"):
            self.texts.append(str(attrs["value"]))
        if tag in {"input", "br", "img", "meta", "link", "hr"}:
            return
        self.stack.append((tag, attrs))
        self._buffer.append([] if self._interface(tag, attrs) else None)  # type: ignore[arg-type]

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            top, _attrs = self.stack.pop()
            chunk = self._buffer.pop()
            if chunk is not None:
                text = " ".join(" ".join(chunk).split())
                if text:
                    self.texts.append(text)
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        for chunk in reversed(self._buffer):
            if chunk is not None:
                chunk.append(data)
                break


def interface_texts(html: str) -> list[str]:
    parser = _Texts()
    parser.feed(html)
    return parser.texts


def english_messages() -> set[str]:
    """Every English message the project's and Django's catalogues know, in
    lower case and without its trailing colon: a label equal to one of these
    was not translated."""
    messages: set[str] = set()
    paths = [Path(settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES" / "django.mo"]
    django_locale = Path(django.__file__).parent
    paths += [
        django_locale / "contrib" / "admin" / "locale" / "ru" / "LC_MESSAGES" / "django.mo",
        django_locale / "conf" / "locale" / "ru" / "LC_MESSAGES" / "django.mo",
    ]
    for path in paths:
        with path.open("rb") as mo:
            catalogue = gettext.GNUTranslations(mo)._catalog  # type: ignore[attr-defined]
        for msgid in catalogue:
            # Plural entries are keyed (msgid, n); the header's msgid is "".
            text = msgid[0] if isinstance(msgid, tuple) else msgid
            if text and "%" not in text and "{" not in text:
                messages.add(_key(text))
    return messages


def _key(text: str) -> str:
    return text.strip().rstrip(":").strip().lower()


# A Latin word of three letters or more with a small letter in it: codes
# (AM2612..., HAR-0001, CSV) are capitals and digits.
ENGLISH_WORD = re.compile(r"\b(?=[A-Za-z]*[a-z])[A-Za-z]{3,}\b")


def untranslated(texts: list[str], english: set[str]) -> list[str]:
    """The texts that are English: a catalogue message left as it is, or
    Latin words of three letters or more that no catalogue knows (a name
    that never went through gettext)."""
    bad = []
    for text in texts:
        if text.rstrip(":") in ALLOWED:
            continue
        if _key(text) in english or ENGLISH_WORD.search(text):
            bad.append(text)
    return bad


def admin_urls(user: Any) -> list[str]:
    """The dashboard, and each registered model's change list, add form (if
    the user may add) and the change form of its first row the user sees."""
    request = RequestFactory().get("/admin/")
    request.user = user
    urls = [reverse("admin:index")]
    for model, model_admin in sorted(
        admin.site._registry.items(), key=lambda item: item[0]._meta.label
    ):
        if not model_admin.has_view_permission(request):
            continue
        opts = model._meta
        info = (opts.app_label, opts.model_name)
        try:
            urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        except NoReverseMatch:
            continue
        if model_admin.has_add_permission(request):
            urls.append(reverse("admin:{}_{}_add".format(*info)))
        first = model_admin.get_queryset(request).order_by("pk").first()
        if first is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
    return urls


def walk(client: Client, urls: list[str], *, language: str) -> list[Page]:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    pages = []
    for url in urls:
        response = client.get(url, follow=False)
        html = response.content.decode()
        pages.append(
            Page(url=url, status=response.status_code, texts=interface_texts(html), html=html)
        )
    return pages
