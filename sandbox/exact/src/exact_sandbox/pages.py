"""HTML of the sign-in, consent and error pages (Jinja2, autoescaped)."""

from __future__ import annotations

from typing import Any

from jinja2 import DictLoader, Environment, select_autoescape

_BASE = """<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>{% block title %}{% endblock %} -
Exact Online (sandbox)</title>
<style>body{font-family:sans-serif;max-width:32rem;margin:3rem auto;color:#222}
.error{color:#b00020}label{display:block;margin:.6rem 0}
button{margin-right:.5rem;padding:.4rem 1rem}</style></head>
<body><p><strong>Exact Online</strong> &middot; {{ host }} (sandbox)</p>
{% block body %}{% endblock %}</body></html>"""

_SIGNIN = """{% extends "base" %}{% block title %}Inloggen{% endblock %}{% block body %}
<h1>Inloggen</h1>
<p>{{ app_name }} vraagt toegang tot uw Exact Online administratie.</p>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="/api/oauth2/auth/signin">
<input type="hidden" name="request_id" value="{{ request_id }}">
<label>Gebruikersnaam <input name="username" autocomplete="username" value="{{ username }}"></label>
<label>Wachtwoord <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit" name="action" value="signin">Inloggen</button>
</form>{% endblock %}"""

_CONSENT = """{% extends "base" %}{% block title %}Toegang verlenen{% endblock %}
{% block body %}
<h1>Toegang verlenen</h1>
<p>Ingelogd als <strong>{{ user.full_name }}</strong> ({{ user.username }}).</p>
<p><strong>{{ app_name }}</strong> vraagt toegang tot de volgende administraties:</p>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="/api/oauth2/auth/consent">
<input type="hidden" name="request_id" value="{{ request_id }}">
<ul>{% for d in divisions %}
<li><label><input type="checkbox" name="division" value="{{ d.code }}" checked>
{{ d.code }} &ndash; {{ d.description }}</label></li>{% endfor %}</ul>
<button type="submit" name="decision" value="approve">Toestaan</button>
<button type="submit" name="decision" value="decline">Weigeren</button>
</form>{% endblock %}"""

_ERROR = """{% extends "base" %}{% block title %}Fout{% endblock %}{% block body %}
<h1>Er is een fout opgetreden</h1><p class="error" role="alert">{{ message }}</p>
{% endblock %}"""

_ENV = Environment(
    loader=DictLoader({"base": _BASE, "signin": _SIGNIN, "consent": _CONSENT, "error": _ERROR}),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def render(name: str, **context: Any) -> str:
    return _ENV.get_template(name).render(**context)
