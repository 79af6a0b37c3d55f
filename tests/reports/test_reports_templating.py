"""etdz.reports.templating: the environment's dict lookups and its cache of compiled templates."""

from __future__ import annotations

import pytest
from jinja2 import Environment, PackageLoader, StrictUndefined, UndefinedError

from etdz.reports.templating import _CompiledTemplates, environment


def test_dict_keys_and_dict_methods_resolve_as_in_jinja():
    source = "{{ d.name }}|{{ d.items()|list|length }}|{{ d.keys }}|{{ e.x is defined }}"
    tpl = environment().from_string(source)
    plain = Environment(autoescape=True, undefined=StrictUndefined).from_string(source)
    # a key named like a dict method is shadowed by the method, as Jinja does; a missing key is undefined
    data = {"d": {"name": "<b>", "keys": "not this"}, "e": {}}
    assert tpl.render(data) == plain.render(data)
    assert tpl.render(data).startswith("&lt;b&gt;|2|&lt;built-in method keys")
    with pytest.raises(UndefinedError):
        environment().from_string("{{ d.missing }}").render(d={})


def _env(folder) -> Environment:
    env = Environment(loader=PackageLoader("etdz.reports", "templates"), autoescape=True,
                      bytecode_cache=_CompiledTemplates(str(folder)))
    env.filters.update(environment().filters)
    return env


def test_a_new_process_reuses_the_compiled_templates(tmp_path, monkeypatch):
    page = _env(tmp_path).get_template("charts.html.j2").render()
    assert any(tmp_path.iterdir())
    fresh = _env(tmp_path)  # what a new process builds
    compiled = []
    monkeypatch.setattr(fresh, "compile", lambda *a, **k: compiled.append(a))
    assert fresh.get_template("charts.html.j2").render() == page
    assert compiled == []


def test_a_cache_folder_that_cannot_be_written_only_costs_a_compile(tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    page = _env(not_a_folder).get_template("charts.html.j2").render()
    assert page == _env(tmp_path / "other").get_template("charts.html.j2").render()


# The levers' rise and headroom as the card wrote them with macros: the filters must write the same markup.
_LEVER_MACROS = (
    "{% macro rise(lv, r) %}{% if r is none %}<span class=\"muted\">不足</span>{% elif r == 0 %}任意增量 "
    "<span class=\"en\">any rise</span>{% else %}+{{ r|shown(lv.unit) }}{% endif %}{% endmacro %}"
    "{% macro headroom(lv) %}{% if lv.unlimited %}不设限 <span class=\"en\">no limit</span>{% elif lv.headroom <= 0 %}"
    "即达上限 <span class=\"en\">at once</span>{% else %}+{{ lv.headroom|shown(lv.unit) }}{% endif %}{% endmacro %}"
)


def _lever(unit: str, headroom: float):
    from etdz.scoring.levers import Lever

    return Lever("fdi_actual", "实际使用外资金额", unit, 120.0, 1.2, 0.5, headroom, 3.0, ("OPN01",), (), ("OPN01",))


@pytest.mark.parametrize("unit", ["万美元", "亿元", "家"])  # converted to 亿美元 for display, and two as they are
@pytest.mark.parametrize("rise", [None, 0, 0.0, 12345.678, 3.0])
@pytest.mark.parametrize("headroom", [float("inf"), 0.0, -1.0, 250.5])
def test_the_levers_rise_and_headroom_filters_write_what_the_macros_wrote(unit, rise, headroom):
    env = environment()
    lv = _lever(unit, headroom)
    expected = env.from_string(_LEVER_MACROS + "{{ rise(lv, r) }}|{{ headroom(lv) }}").render(lv=lv, r=rise)
    assert env.from_string("{{ r|rise(lv.unit) }}|{{ lv|headroom }}").render(lv=lv, r=rise) == expected
    assert ("不足" in expected) == (rise is None) and ("不设限" in expected) == (headroom == float("inf"))
