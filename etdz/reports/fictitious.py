"""The one mark of a demo deployment: every page, sheet, notice and UI description of it says its data are invented.

The demo carries the official title and the real zones' names beside invented scores and downgrade candidates, so a
page printed or forwarded from it must never pass for a result. Whether a deployment is the demo is its own
configuration's ``demo`` setting (:class:`etdz.settings.Settings`, ``demo = true`` written by ``etdz demo`` into its
``etdz.toml``), read by every later ``etdz run``, the Dagster code location and the portal; a real deployment has
none and shows nothing.
"""

from __future__ import annotations

BANNER_ZH = "演示数据（虚构）"
BANNER_EN = "Demo data — fictitious"
#: the banner as one line: HTML pages, workbook sheets, notices, the UI
BANNER = f"{BANNER_ZH} {BANNER_EN}"
#: what the banner says underneath, on the pages that have room for it
EXPLANATION_ZH = "本页所有数字均为演示用的虚构数据，不是考核结果；园区名称取自公开名录，与其得分、名次和预警无关。"
EXPLANATION_EN = ("Every figure on this page is invented for the demo and is no assessment result; the zones' names "
                  "come from the public list and have nothing to do with their scores, ranks or watch-list entries.")


def describe(text: str | None, demo: bool) -> str | None:
    """``text`` (a Dagster description, a sheet title) with the banner in front when ``demo``; as it is otherwise."""
    if not demo:
        return text
    return f"**{BANNER}** — {text}" if text else f"**{BANNER}**"


def notice_lines(demo: bool) -> list[str]:
    """The first lines of a plain-text notice: the banner and a blank line when ``demo``; none otherwise."""
    return [f"【{BANNER}】{EXPLANATION_ZH}", ""] if demo else []
