"""`/`: the dashboard, rendered on the server as plain HTML (with small inline SVG charts).

`page()` is the whole document: a header with the token field, and the live
part, which `fragment()` renders alone; `static/dashboard.js` fetches
`/fragment` every few seconds and swaps it in, so the page refreshes without a
reload (and without a build step or anything fetched from the internet).
Every value that comes from the state is HTML-escaped: tool names, reasons and
diffs are producer-controlled text.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from html import escape

from repairlab.cli.render import seconds
from repairlab.messages.reports import QuarantineEntry, StatusReport
from repairlab.web.events import HOUR, STRATEGIES, Tally
from repairlab.web.source import RecentRepair, StateSource

RECENT_REPAIRS = 8
DIFF_LINES = 60
TOP_LINEAGES = 12
REFRESH_SECONDS = 3


@dataclass
class View:
    """What one rendering shows, read from the source once."""

    status: StatusReport
    oldest: float | None
    held: dict[str, list[str]]
    tally: Tally
    recent: list[RecentRepair]
    quarantine: list[QuarantineEntry]
    read_only: bool
    now: float


def read_view(source: StateSource, *, read_only: bool) -> View:
    """Everything the page shows, from `source` (its errors propagate)."""
    return View(status=source.status(), oldest=source.oldest_claimable_age(),
                held=source.held(), tally=source.history().snapshot(),
                recent=source.recent_repairs(RECENT_REPAIRS),
                quarantine=source.quarantine().entries, read_only=read_only, now=time.time())


_EXCEPTION = re.compile(r"[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b")


def reason_class(text: str | None) -> str:
    """The class of a quarantine reason, for filtering: its lead words, plus the
    exception's type or the kind of test failure (`tests fail: timed out`,
    `crashed the repairer: RecursionError`)."""
    if not text:
        return "(no reason)"
    head, sep, rest = text.partition(":")
    head, rest = head.strip()[:40], rest.strip()
    if not sep:
        return head
    first = rest.partition("first failure:")[2].strip()
    match = _EXCEPTION.match(rest) or _EXCEPTION.match(first)
    if match:
        return f"{head}: {match.group(0)}"
    for kind in ("tests timed out", "test run crashed"):
        if rest.startswith(kind):
            return f"{head}: {kind}"
    return head


def age(value: float | None) -> str:
    """A duration as the command line shows it (`cli.render.seconds`): `-`,
    `850 ms`, `12.0 s`, `4 min 2 s`, `3 h 20 min`, `2 d 4 h`."""
    return seconds(value)


def page(view: View) -> str:
    """The whole dashboard document."""
    mode = ("read-only (no [web] token_file)" if view.read_only
            else "operator token: <input id=\"token\" type=\"password\" autocomplete=\"off\" "
                 "placeholder=\"paste once\" size=\"24\"> <button id=\"token-save\">use</button>"
                 " <span id=\"token-state\"></span>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>repairlab — {escape(view.status.root)}</title>
<link rel="stylesheet" href="/static/dashboard.css">
<script src="/static/dashboard.js" defer></script>
</head><body data-refresh="{REFRESH_SECONDS}" data-read-only="{str(view.read_only).lower()}">
<header><h1>repairlab</h1><span class="root">{escape(view.status.root)}</span>
<span class="token">{mode}</span></header>
<div id="notice" role="status"></div>
<main id="live">{fragment(view)}</main>
<footer>refreshes every {REFRESH_SECONDS} s · <a href="/metrics">/metrics</a> ·
<a href="/api/status">/api/status</a> · <a href="/api/quarantine">/api/quarantine</a></footer>
</body></html>
"""


def fragment(view: View) -> str:
    """The live part of the page (what `/fragment` returns)."""
    return "\n".join((_counts(view), _instances(view), _hour(view), _recent(view),
                      _quarantine(view), _success(view),
                      f'<p class="stamp" id="stamp">as of {escape(view.status.generated_at)}'
                      "</p>"))


def _card(label: str, value: str, ident: str, warn: bool = False) -> str:
    cls = "card warn" if warn else "card"
    return (f'<div class="{cls}"><div class="value" id="{ident}">{escape(value)}</div>'
            f'<div class="label">{escape(label)}</div></div>')


def _counts(view: View) -> str:
    s = view.status
    alive = sum(1 for i in s.instances if i.alive)
    cards = [
        _card("queue depth", str(s.queue), "queue-depth"),
        _card("oldest waiting", age(view.oldest), "oldest-waiting",
              warn=view.oldest is not None and view.oldest > 600),
        _card("in flight", str(s.in_flight), "in-flight"),
        _card("backing off", str(s.waiting), "deferred"),
        _card("done", str(s.done), "done"),
        _card("quarantined", str(s.quarantined), "quarantined", warn=s.quarantined > 0),
        _card("corrupt", str(s.corrupt), "corrupt"),
        _card("instances alive", f"{alive}/{len(s.instances)}", "alive",
              warn=bool(s.instances) and alive == 0),
    ]
    return f'<section class="cards">{"".join(cards)}</section>'


def _instances(view: View) -> str:
    rows = []
    for i in view.status.instances:
        held = view.held.get(i.instance, [])
        shown = ", ".join(escape(n) for n in held[:5]) + (f" … (+{len(held) - 5})"
                                                          if len(held) > 5 else "")
        rows.append(
            f'<tr class="{"" if i.alive else "dead"}"><td>{escape(i.instance)}</td>'
            f'<td>{"alive" if i.alive else "SILENT"}</td><td class="num">{i.in_flight}</td>'
            f"<td>{escape(i.last_heartbeat or '-')} ({age(i.heartbeat_age_s)} ago)</td>"
            f"<td>{shown or '-'}</td></tr>")
    body = "".join(rows) or '<tr><td colspan="5">no instance has run here recently</td></tr>'
    return ('<section><h2>Instances</h2><table><thead><tr><th>instance</th><th>state</th>'
            '<th>in flight</th><th>last heartbeat</th><th>holds</th></tr></thead>'
            f"<tbody>{body}</tbody></table></section>")


def _hour(view: View) -> str:
    recent = view.tally.recent
    counts = {"repaired": 0, "failed": 0, "quarantined": 0, "corrupt": 0}
    slots = [0] * 12  # repairs per 5 minutes, oldest first
    start = view.now - HOUR
    for at, outcome in recent:
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome == "repaired":
            slots[min(11, max(0, int((at - start) // 300)))] += 1
    decided = counts["repaired"] + counts["quarantined"]
    rate = f"{100 * counts['repaired'] / decided:.0f}%" if decided else "-"
    top = max(slots) or 1
    bars = "".join(
        f'<rect x="{i * 20 + 1}" y="{40 - 38 * n / top:.1f}" width="18" '
        f'height="{38 * n / top:.1f}" class="bar"><title>{n}</title></rect>'
        for i, n in enumerate(slots))
    return (
        '<section><h2>Last hour</h2><div class="hour">'
        f'<div><span class="big" id="hour-repaired">{counts["repaired"]}</span> repaired '
        f'({counts["repaired"] / 60:.1f}/min)</div>'
        f'<div><span class="big" id="hour-rate">{rate}</span> success '
        "(repaired / repaired + quarantined)</div>"
        f'<div>{counts["failed"]} failed attempts, {counts["quarantined"]} quarantined, '
        f'{counts["corrupt"]} corrupt</div>'
        f'<svg width="240" height="42" role="img" aria-label="repairs per 5 minutes">{bars}'
        "</svg></div></section>")


def _diff(text: str) -> str:
    lines = text.splitlines()
    out = []
    for line in lines[:DIFF_LINES]:
        cls = ("hunk" if line.startswith("@@") else "file" if line.startswith(("+++", "---"))
               else "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx")
        out.append(f'<span class="{cls}">{escape(line)}</span>')
    if len(lines) > DIFF_LINES:
        out.append(f'<span class="more">… {len(lines) - DIFF_LINES} more lines</span>')
    # Each line is a block of its own: no newlines between them (they would show twice).
    return "".join(out) or '<span class="ctx">(no change: the tests already passed)</span>'


def _recent(view: View) -> str:
    items = []
    for r in view.recent:
        tests = f"{r.tests.passed} passed" if r.tests is not None else ""
        pattern = f" ({escape(r.repair_pattern_id)})" if r.repair_pattern_id else ""
        items.append(
            f'<article class="repair"><div class="meta"><b>{escape(r.tool)}</b> '
            f'<span class="strategy">{escape(r.repair_strategy)}{pattern}</span> '
            f'<span>{escape(r.created_at)}</span> <span>{escape(r.lineage or "")}</span> '
            f"<span>{tests}</span> <span>{escape(r.handoff_name or '')}</span></div>"
            f'<pre class="diff">{_diff(r.diff)}</pre></article>')
    body = "".join(items) or "<p>no repair yet</p>"
    return f'<section id="recent"><h2>Recent repairs</h2>{body}</section>'


def _quarantine(view: View) -> str:
    rows = []
    for q in view.quarantine:
        klass = reason_class(q.last_reason)
        button = ("" if view.read_only else
                  f'<button class="release" data-release="{escape(q.name)}">release</button>')
        rows.append(
            f'<tr data-reason="{escape(klass)}" data-lineage="{escape(q.lineage or "(none)")}">'
            f"<td>{escape(q.name)}</td><td>{escape(q.tool or '-')}</td>"
            f"<td>{escape(q.lineage or '-')}</td><td class=\"num\">{q.failures}</td>"
            f"<td>{escape(q.quarantined_at or '-')}</td>"
            f'<td><span class="class">{escape(klass)}</span> '
            f"{escape((q.last_reason or '')[:300])}</td><td>{button}</td></tr>")
    body = "".join(rows) or '<tr><td colspan="7">nothing quarantined</td></tr>'
    bulk = ("" if view.read_only else
            '<button id="release-all">release all shown</button>')
    return (
        f'<section id="quarantine"><h2>Quarantine ({len(view.quarantine)})</h2>'
        '<div class="filters">reason <select id="filter-reason"><option value="">all</option>'
        '</select> lineage <select id="filter-lineage"><option value="">all</option></select> '
        f"{bulk}</div>"
        '<table><thead><tr><th>handoff</th><th>tool</th><th>lineage</th><th>failures</th>'
        "<th>quarantined at</th><th>reason</th><th></th></tr></thead>"
        f'<tbody id="quarantine-rows">{body}</tbody></table></section>')


def _bars(items: list[tuple[str, int, str]], width: int = 420) -> str:
    """A horizontal bar chart: (label, value, text shown at the bar's end)."""
    top = max((v for _, v, _ in items), default=0) or 1
    rows = []
    for n, (label, value, text) in enumerate(items):
        y = n * 22
        w = max(1.0, (width - 240) * value / top) if value else 0
        rows.append(f'<text x="0" y="{y + 15}" class="label">{escape(label)}</text>'
                    f'<rect x="150" y="{y + 3}" width="{w:.1f}" height="16" class="bar"/>'
                    f'<text x="{155 + w:.1f}" y="{y + 15}">{escape(text)}</text>')
    return (f'<svg width="{width}" height="{22 * len(items) + 4}" role="img">'
            f'{"".join(rows)}</svg>')


def _success(view: View) -> str:
    t = view.tally
    fresh = sum(t.strategies.values())
    strategies = [(s, n, f"{n} ({100 * n / fresh:.0f}%)" if fresh else "0")
                  for s, n in t.strategies.items() if n or s in STRATEGIES]
    by_strategy = (_bars(strategies) if fresh else "<p>no repair yet</p>")
    lineages = sorted(t.lineages.items(),
                      key=lambda kv: (-(kv[1].repaired + kv[1].quarantined), kv[0]))
    rows = []
    for name, ratio in lineages[:TOP_LINEAGES]:
        rate = ratio.rate
        width = 0 if rate is None else 100 * rate
        rows.append(
            f"<tr><td>{escape(name)}</td><td class=\"num\">{ratio.repaired}</td>"
            f"<td class=\"num\">{ratio.quarantined}</td>"
            f"<td class=\"num\">{'-' if rate is None else f'{100 * rate:.0f}%'}</td>"
            f'<td><svg width="100" height="10"><rect width="100" height="10" class="track"/>'
            f'<rect width="{width:.0f}" height="10" class="bar"/></svg></td></tr>')
    more = (f"<p>… and {len(lineages) - TOP_LINEAGES} more lineages</p>"
            if len(lineages) > TOP_LINEAGES else "")
    table = ('<table><thead><tr><th>lineage</th><th>repaired</th><th>quarantined</th>'
             f'<th>success</th><th></th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
             if rows else "<p>nothing decided yet</p>")
    return ('<section class="success"><div><h2>Repairs by strategy</h2>'
            f'{by_strategy}</div><div><h2>Success by lineage</h2>{table}{more}</div></section>')
