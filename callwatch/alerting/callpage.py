"""The call page as HTML: what a supervisor opening an alert's link on a phone sees.

Server-rendered, no JavaScript, no external resources (the Content-Security-Policy
in ``actions`` forbids them), large type and one big button. Order is what a
person woken at 3 a.m. needs: where the alert stands (open, taken by whom,
resolved), what to do now, the button, the policy clause, then the timeline.
Everything shown comes from redacted documents (the Elasticsearch indices) and
the alerter's state; every value is escaped here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Final, Literal
from zoneinfo import ZoneInfo

Status = Literal["open", "acknowledged", "resolved", "unknown"]
Tone = Literal["ok", "warn", "error", "info"]


@dataclass(frozen=True, slots=True)
class Entry:
    at: int  # unix ms
    kind: Literal["event", "finding", "alert", "ack", "escalation"]
    text: str


@dataclass(frozen=True, slots=True)
class Form:
    action: Literal["ack", "escalate"]
    post_url: str
    csrf: str
    name: str  # prefilled: the recipient the link was sent to, if a person
    name_fixed: bool  # a person's own link: the name is theirs


@dataclass(frozen=True, slots=True)
class Banner:
    tone: Tone
    text: str


@dataclass(frozen=True, slots=True)
class PageView:
    call_id: str
    rule: str
    severity: str
    headline: str
    status: Status
    status_line: str
    do_now: str
    clause: str
    clause_text: str
    policy_source: str
    timezone: str
    timeline: list[Entry] = field(default_factory=list)
    form: Form | None = None
    banner: Banner | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A link that cannot be used: say so plainly, and what to do instead."""

    heading: str
    text: str


_STATUS_TONE: Final[dict[Status, Tone]] = {
    "open": "error", "acknowledged": "ok", "resolved": "info", "unknown": "info"
}
_ICON: Final = {"event": "•", "finding": "!", "alert": "→", "ack": "✓", "escalation": "↑"}

_CSS: Final = """
*{box-sizing:border-box}
body{margin:0;font:18px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
 background:#f4f5f7;color:#111}
main{max-width:40rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;line-height:1.25;margin:.25rem 0 .75rem}
h2{font-size:1rem;text-transform:uppercase;letter-spacing:.04em;color:#444;margin:1.5rem 0 .5rem}
.status{padding:1rem;border-radius:.5rem;font-weight:700;font-size:1.15rem;color:#fff}
.status.error{background:#b00020}.status.ok{background:#1b7f3b}
.status.info{background:#3d4b5c}.status.warn{background:#8a5a00}
.banner{padding:.85rem 1rem;border-radius:.5rem;margin:.75rem 0;font-weight:600;
 border:3px solid}
.banner.ok{border-color:#1b7f3b;background:#e8f5ec}.banner.error{border-color:#b00020;
 background:#fdecee}.banner.warn{border-color:#8a5a00;background:#fff4e0}
.banner.info{border-color:#3d4b5c;background:#eef1f5}
.meta{color:#444;font-size:.95rem}
.donow{background:#fff;border-left:.4rem solid #b00020;padding:.75rem 1rem;border-radius:.25rem}
.donow.calm{border-left-color:#1b7f3b}
form{background:#fff;padding:1rem;border-radius:.5rem;margin:1rem 0}
label{display:block;font-weight:600;margin:.5rem 0 .25rem}
input[type=text]{width:100%;font-size:1.05rem;padding:.7rem;border:2px solid #888;
 border-radius:.4rem}
button{width:100%;margin-top:1rem;font-size:1.25rem;font-weight:700;padding:1rem;border:0;
 border-radius:.5rem;color:#fff;background:#1b7f3b}
button.escalate{background:#b00020}
blockquote{margin:0;background:#fff;padding:.75rem 1rem;border-left:.4rem solid #3d4b5c;
 font-style:italic}
ol{list-style:none;padding:0;margin:0}
li{background:#fff;margin:.35rem 0;padding:.55rem .75rem;border-radius:.35rem}
li time{display:block;font-variant-numeric:tabular-nums;color:#333;font-size:.85rem;
 font-weight:700}
li.finding{border-left:.3rem solid #b00020}li.ack{border-left:.3rem solid #1b7f3b}
li.escalation{border-left:.3rem solid #8a5a00}li.alert{border-left:.3rem solid #3d4b5c}
footer{color:#555;font-size:.85rem;margin:2rem 0 1rem}
"""


def clock(at: int, zone: ZoneInfo, with_day: bool = False) -> str:
    moment = datetime.fromtimestamp(at / 1000, tz=zone)
    return moment.strftime("%a %d %b %H:%M:%S" if with_day else "%H:%M:%S")


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        '<meta name=referrer content=same-origin>'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def render_page(view: PageView) -> str:
    zone = ZoneInfo(view.timezone)
    parts = [
        f'<div class="status {_STATUS_TONE[view.status]}" role=status>'
        f"{escape(view.status_line)}</div>",
    ]
    if view.banner is not None:
        parts.append(f'<div class="banner {view.banner.tone}" role=alert>'
                     f"{escape(view.banner.text)}</div>")
    parts.append(
        f"<h1>Call {escape(view.call_id)}: {escape(view.headline)}</h1>"
        f'<p class=meta>{escape(view.severity.upper())} · rule {escape(view.rule)}'
        f" · clause {escape(view.clause)}</p>"
    )
    # what to do first, then the button that says "I have it"
    calm = "" if view.status == "open" else " calm"
    parts.append(f'<h2>Do now</h2><p class="donow{calm}">{escape(view.do_now)}</p>')
    if view.form is not None:
        parts.append(_form(view.form))
    parts.append(
        f"<h2>Policy {escape(view.clause)}</h2><blockquote>{escape(view.clause_text)}"
        f"</blockquote><p class=meta>{escape(view.policy_source)}</p>"
    )
    parts.append(f"<h2>Timeline ({escape(zone.key)})</h2>")
    if view.timeline:
        entries = sorted(view.timeline, key=lambda e: e.at)
        # the day too when the timeline spans more than one (a replay, a call past midnight)
        days = {datetime.fromtimestamp(e.at / 1000, tz=zone).date() for e in entries}
        items = "".join(
            f'<li class={e.kind}><time>{clock(e.at, zone, len(days) > 1)}</time>'
            f"<span>{_ICON[e.kind]} {escape(e.text)}</span></li>"
            for e in entries
        )
        parts.append(f"<ol>{items}</ol>")
    else:
        parts.append("<p class=meta>Nothing recorded for this call yet.</p>")
    parts.append(
        "<footer>callwatch. This page shows no caller names, phone numbers or addresses"
        " (the department's redaction policy). Do not forward its link: it acts in your"
        " name.</footer>"
    )
    return _document(f"Call {view.call_id}: {view.headline}", "".join(parts))


def _form(form: Form) -> str:
    if form.action == "ack":
        button = "<button type=submit>I'm taking it</button>"
        intro = ("Press the button to acknowledge: everyone else who got this alert is told"
                 " you have it, and escalation stops.")
        comment_label = "What are you doing? (optional, shown to the others)"
    else:
        button = "<button type=submit class=escalate>Escalate now</button>"
        intro = "Press the button to page the next tier of the on-call schedule now."
        comment_label = "Why? (optional, shown to the next tier)"
    name_attrs = " readonly" if form.name_fixed else " required"
    return (
        f'<form method=post action="{escape(form.post_url)}">'
        f"<p>{escape(intro)}</p>"
        f'<input type=hidden name=csrf value="{escape(form.csrf)}">'
        f'<label for=by>Your name</label><input type=text id=by name=by maxlength=120'
        f' value="{escape(form.name)}" autocomplete=name{name_attrs}>'
        f'<label for=comment>{escape(comment_label)}</label>'
        f'<input type=text id=comment name=comment maxlength=300>'
        f"{button}</form>"
    )


def render_refusal(refusal: Refusal) -> str:
    body = (
        f'<div class="status error" role=alert>{escape(refusal.heading)}</div>'
        f"<p>{escape(refusal.text)}</p>"
        "<footer>callwatch</footer>"
    )
    return _document(refusal.heading, body)
