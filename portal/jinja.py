"""The pages' Jinja2 environment: autoescaped, every value through the project's HTML escaper
(:func:`etdz.escape.html_text`: bidi controls and invalid characters removed) — the same as the reports'."""

from __future__ import annotations

from django.conf import settings as dj
from django.urls import reverse
from jinja2 import Environment

from etdz.escape import html_text, isolate
from etdz.reports import fictitious


def demo_banner() -> dict | None:
    """The demo deployment's mark (``demo = true``, etdz/reports/fictitious.py) for every page, else None."""
    if not getattr(dj.ETDZ, "demo", False):
        return None
    return {"zh": fictitious.BANNER_ZH, "en": fictitious.BANNER_EN, "explanation_zh": fictitious.EXPLANATION_ZH,
            "explanation_en": fictitious.EXPLANATION_EN}


def environment(**options) -> Environment:
    options["autoescape"] = True
    env = Environment(finalize=html_text, **options)
    env.filters["bdi"] = isolate
    env.globals["url"] = reverse
    env.globals["demo_banner"] = demo_banner
    return env
