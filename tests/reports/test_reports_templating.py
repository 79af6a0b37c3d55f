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
