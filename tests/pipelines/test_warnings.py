"""Dagster's beta/preview warnings: the ones for features used on purpose are silenced by message, no others."""

from __future__ import annotations

import warnings
from pathlib import Path

from dagster import BetaWarning, PreviewWarning, SupersessionWarning

from etdz.settings import Settings
from pipelines import ON_PURPOSE, silence_on_purpose

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def test_building_the_definitions_warns_about_nothing_used_on_purpose():
    from pipelines.definitions import build_definitions

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        silence_on_purpose()
        defs = build_definitions(Settings.from_env({
            "ETDZ_REGISTRY": str(GOLDEN / "registry.csv"), "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues"),
            "ETDZ_INBOX": str(GOLDEN / "inbox")}))
        defs.resolve_asset_graph()
    noisy = [str(w.message) for w in caught if issubclass(w.category, (BetaWarning, PreviewWarning,
                                                                        SupersessionWarning))]
    assert noisy == []


def test_other_beta_preview_and_supersession_warnings_still_show():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        silence_on_purpose()
        warnings.warn("Function `something_new` is currently in beta", BetaWarning, stacklevel=2)
        warnings.warn("Class `Other` is currently in preview", PreviewWarning, stacklevel=2)
        warnings.warn("`dagster dev` is superseded by `dg dev`", SupersessionWarning, stacklevel=2)
        for category, message, _ in ON_PURPOSE:  # the same text under another category is not silenced either
            other = PreviewWarning if category is BetaWarning else BetaWarning
            warnings.warn(message.replace("\\", "") + " …", other, stacklevel=2)
    assert len(caught) == 3 + len(ON_PURPOSE)


def test_each_silenced_warning_says_why():
    assert all(why.strip() for _, _, why in ON_PURPOSE)
