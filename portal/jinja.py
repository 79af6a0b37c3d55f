"""The pages' Jinja2 environment: autoescaped, every value through the project's HTML escaper
(:func:`etdz.escape.html_text`: bidi controls and invalid characters removed) — the same as the reports'."""

from __future__ import annotations

from django.urls import reverse
from jinja2 import Environment

from etdz.escape import html_text, isolate


def environment(**options) -> Environment:
    options["autoescape"] = True
    env = Environment(finalize=html_text, **options)
    env.filters["bdi"] = isolate
    env.globals["url"] = reverse
    return env
