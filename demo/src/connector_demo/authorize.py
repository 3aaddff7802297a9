"""Completing an authorization link the way a person does: landing page, Exact sign-in,
consent, company choice, outcome page."""

from __future__ import annotations

from dataclasses import dataclass

from connector_demo.browser import Browser, Page

APPROVE_WORDS = ("approve", "allow", "authorize", "authorise", "grant", "accept", "agree", "toestaan")
DECLINE_WORDS = ("decline", "deny", "cancel", "reject", "weigeren")
START_WORDS = ("sign in", "continue", "start", "connect", "log in", "login")


@dataclass
class Outcome:
    page: Page
    steps: list[str]

    @property
    def text(self) -> str:
        return self.page.text


async def complete_authorization(
    browser: Browser,
    link: str,
    username: str,
    password: str,
    *,
    division: int | None = None,
    decline: bool = False,
    instance: str | None = None,
    max_steps: int = 10,
) -> Outcome:
    page = await browser.get(link)
    steps = [f"{page.status} {page.title or page.url}"]
    for _ in range(max_steps):
        if not page.forms:
            break
        form = page.forms[0]
        names = {n.lower() for n in list(form.fields) + list(form.choices)}
        labels = [(b[2] or b[1] or "").lower() for b in form.buttons]
        if "password" in names:
            page = await browser.submit(page, form, **_credentials(form, username, password))
        elif any(w in lbl for lbl in labels for w in APPROVE_WORDS):
            words = DECLINE_WORDS if decline else APPROVE_WORDS
            button = next(lbl for lbl in labels if any(w in lbl for w in words))
            page = await browser.submit(page, form, button=button)
        elif any("division" in n for n in names):
            field_name = next(n for n in list(form.fields) + list(form.choices) if "division" in n.lower())
            chosen = {field_name: str(division)} if division is not None else {}
            page = await browser.submit(page, form, **chosen)
        else:
            values: dict[str, str] = {}
            for name, options in form.choices.items():
                if "instance" in name.lower() or "region" in name.lower():
                    values[name] = instance or next((o for o in options if o.upper() == "NL"), options[0])
            start = next((lbl for lbl in labels if any(w in lbl for w in START_WORDS)), None)
            page = await browser.submit(page, form, button=start, **values)
        steps.append(f"{page.status} {page.title or page.url}")
    return Outcome(page, steps)


def _credentials(form: object, username: str, password: str) -> dict[str, str]:
    fields = getattr(form, "fields", {})
    user_field = next((n for n in fields if n.lower() in ("username", "user", "email", "login")), "username")
    pass_field = next((n for n in fields if "password" in n.lower()), "password")
    return {user_field: username, pass_field: password}
