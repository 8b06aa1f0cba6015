"""Small presentation helpers for the dashboard templates: badges, icons, durations."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from calls.models import CallSession
from customers.models import CustomerProfile

register = template.Library()

# kind -> value -> tone; every tone is a tinted background with text at >= 4.5:1 contrast (app.css).
BADGE_TONES: dict[str, dict[str, str]] = {
    "call_status": {
        "queued": "gray", "ringing": "blue", "in_progress": "indigo", "completed": "green", "busy": "amber",
        "no_answer": "gray", "failed": "red", "canceled": "gray",
    },
    "outcome": {
        "converted": "green", "interested": "teal", "callback_requested": "indigo", "answered": "blue",
        "not_interested": "amber", "voicemail": "purple", "no_answer": "gray", "failed": "red", "do_not_call": "red",
        "": "gray",
    },
    "interest": {"cold": "slate", "warm": "amber", "hot": "orange", "converted": "green"},
    "agent_status": {
        "training": "amber", "learning": "blue", "active": "green", "optimizing": "teal", "paused": "gray",
    },
    "callback_status": {
        "scheduled": "blue", "in_progress": "indigo", "completed": "green", "canceled": "gray", "failed": "red",
        "missed": "amber",
    },
    "call_type": {"inbound": "teal", "outbound": "blue", "scheduled": "indigo", "followup": "purple"},
    "priority": {"1": "red", "2": "orange", "3": "blue", "4": "gray", "5": "gray"},
    "alert": {"error": "red", "warning": "amber", "info": "blue"},
    "sentiment": {"positive": "green", "neutral": "gray", "negative": "red", "mixed": "amber"},
}  # fmt: skip
LABELS: dict[str, dict[str, str]] = {
    "call_status": dict(CallSession.Status.choices),
    "outcome": {**dict(CallSession.Outcome.choices), "": "No outcome yet"},
    "interest": dict(CustomerProfile.InterestLevel.choices),
    "agent_status": dict(AIAgent.Status.choices),
    "callback_status": dict(ScheduledCallback.Status.choices),
    "call_type": dict(CallSession.CallType.choices),
    "priority": {str(n): f"P{n}" for n in range(1, 6)},
}


@register.simple_tag
def badge(kind: str, value, label: str | None = None) -> str:
    """``{% badge "outcome" call.outcome %}``: a coloured pill with the value's human label."""
    value = "" if value is None else str(value)
    tone = BADGE_TONES.get(kind, {}).get(value, "gray")
    text = label or LABELS.get(kind, {}).get(value) or value.replace("_", " ").capitalize() or "—"
    return format_html(
        '<span class="badge badge--{}" data-badge="{}" data-value="{}">{}</span>', tone, kind, value, text
    )


@register.filter
def keylabel(value) -> str:
    """``price_too_high`` -> ``Price too high``."""
    text = str(value or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@register.filter
def duration(seconds) -> str:
    if seconds in (None, ""):
        return "—"
    seconds = int(seconds)
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"


@register.filter
def ms(value) -> str:
    if value in (None, ""):
        return "—"
    value = float(value)
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


@register.filter
def get_item(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None


# Stroke icons drawn on a 24x24 grid (currentColor), hidden from screen readers: a label always goes with them.
ICONS = {
    "settings": '<circle cx="12" cy="12" r="3"/>'
    '<path d="M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7'
    " 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2"
    " 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7"
    " 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7"
    " 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2"
    ' 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z"/>',
    "overview": '<rect x="3" y="3" width="7" height="9" rx="1"/><rect x="14" y="3" width="7" height="5" rx="1"/>'
    '<rect x="14" y="12" width="7" height="9" rx="1"/><rect x="3" y="16" width="7" height="5" rx="1"/>',
    "training": '<path d="M22 10 12 5 2 10l10 5 10-5z"/><path d="M6 12v5c3 2 9 2 12 0v-5"/>',
    "phone": '<path d="M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2'
    " 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1.9.4 1.8.7 2.7a2 2 0 0 1-.5 2.1L8 9.8a16 16 0 0 0 6 6l1.3-1.3a2 2 0 0 1"
    ' 2.1-.4c.9.3 1.8.6 2.7.7a2 2 0 0 1 1.7 2z"/>',
    "calls": '<path d="M8 6h13M8 12h13M8 18h13M3 6h.01M3 12h.01M3 18h.01"/>',
    "customers": '<path d="M16 21v-2a4 4 0 0 0-4-4H6a4 4 0 0 0-4 4v2"/><circle cx="9" cy="7" r="4"/>'
    '<path d="M22 21v-2a4 4 0 0 0-3-3.9M16 3.1a4 4 0 0 1 0 7.8"/>',
    "callbacks": '<rect x="3" y="4" width="18" height="18" rx="2"/><path d="M16 2v4M8 2v4M3 10h18"/>'
    '<path d="M12 14v3l2 1"/>',
    "upload": '<path d="M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4M17 8l-5-5-5 5M12 3v12"/>',
    "download": '<path d="M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4M7 10l5 5 5-5M12 15V3"/>',
    "logout": '<path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9"/>',
    "mic": '<path d="M12 2a3 3 0 0 0-3 3v7a3 3 0 0 0 6 0V5a3 3 0 0 0-3-3z"/>'
    '<path d="M19 10v2a7 7 0 0 1-14 0v-2M12 19v3"/>',
    "alert": '<path d="M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z"/>'
    '<path d="M12 9v4M12 17h.01"/>',
    "menu": '<path d="M3 6h18M3 12h18M3 18h18"/>',
    "campaigns": '<path d="M3 11l18-5v12L3 13v-2z"/><path d="M11.6 16.8a3 3 0 1 1-5.8-1.6"/>',
    "plus": '<path d="M12 5v14M5 12h14"/>',
    "x": '<path d="M18 6 6 18M6 6l12 12"/>',
    "back": '<path d="M19 12H5M12 19l-7-7 7-7"/>',
    "check": '<path d="M20 6 9 17l-5-5"/>',
    "bot": '<rect x="3" y="8" width="18" height="12" rx="3"/><path d="M12 8V4M8 14h.01M16 14h.01M9 18h6"/>'
    '<circle cx="12" cy="3" r="1"/>',
    "send": '<path d="M22 2 11 13M22 2l-7 20-4-9-9-4 20-7z"/>',
    "hangup": '<path d="M10.7 13.3a16 16 0 0 0 3.4 2.6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.7.7a2 2 0 0 1 1.7 2v3'
    "a2 2 0 0 1-2.2 2A19.8 19.8 0 0 1 2.1 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1.9.4 1.8.7 2.7a2 2 0 0 1-.5 2.1"
    'L8 9.8"/><path d="M22 2 2 22"/>',
    "search": '<circle cx="11" cy="11" r="7"/><path d="m21 21-4.3-4.3"/>',
}


@register.simple_tag
def icon(name: str, size: int = 18) -> str:
    body = ICONS.get(name, "")
    return mark_safe(  # noqa: S308 - our own constant SVG markup, no user input
        f'<svg class="icon" width="{int(size)}" height="{int(size)}" viewBox="0 0 24 24" fill="none" '
        f'stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" '
        f'focusable="false">{body}</svg>'
    )


# url name -> the sidebar section it belongs to
NAV_SECTIONS = {
    "overview": "overview",
    "training": "training",
    "simulator": "simulator",
    "simulations": "simulator",
    "simulation-detail": "simulator",
    "calls": "calls",
    "call-detail": "calls",
    "customers": "customers",
    "customer-detail": "customers",
    "customer-import": "customers",
    "callbacks": "callbacks",
    "campaigns": "campaigns",
    "campaign-detail": "campaigns",
    "campaign-approvals": "campaigns",
    "settings": "settings",
    "settings-agent": "settings",
    "settings-policy": "settings",
    "settings-telephony": "settings",
}


@register.simple_tag(takes_context=True)
def nav_link(context, url_name: str, label: str, icon_name: str, badge_count: int = 0) -> str:
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    current = NAV_SECTIONS.get(getattr(match, "url_name", "") or "") == NAV_SECTIONS.get(url_name)
    counter = format_html('<span class="nav-count">{}</span>', badge_count) if badge_count else ""
    return format_html(
        '<a class="nav-link{}" href="{}"{}>{}<span>{}</span>{}</a>',
        " is-active" if current else "",
        reverse(f"dashboard:{url_name}"),
        mark_safe(' aria-current="page"') if current else "",
        icon(icon_name),
        label,
        counter,
    )


@register.filter
def action_chips(actions) -> list[dict]:
    """A turn's action records (calls.actions) as short, human sentences with a tone."""
    chips = []
    for record in actions if isinstance(actions, list) else []:
        if not isinstance(record, dict):
            continue
        kind = record.get("type", "")
        if kind == "schedule_callback":
            if record.get("refused"):
                chips.append({"tone": "red", "kind": kind, "text": f"Callback refused: {record['refused']}"})
                continue
            booked = _when(record.get("booked"))
            text = f"Callback booked for {dateformat.format(booked, 'D j M, H:i')}" if booked else "Callback booked"
            if record.get("moved"):
                text += " (moved into calling hours)"
            chips.append({"tone": "indigo", "kind": kind, "text": text, "callback_id": record.get("callback_id")})
        elif kind == "mark_do_not_call":
            cancelled = record.get("callbacks_cancelled") or 0
            extra = f"; {cancelled} callback{'s' if cancelled != 1 else ''} cancelled" if cancelled else ""
            chips.append({"tone": "red", "kind": kind, "text": f"Do-not-call set{extra}"})
        elif kind == "set_interest_level":
            chips.append({"tone": "amber", "kind": kind, "text": f"Interest set to {keylabel(record.get('level'))}"})
        elif kind == "record_objection":
            chips.append({"tone": "gray", "kind": kind, "text": f"Objection: {keylabel(record.get('key'))}"})
        elif kind == "answered_objection":
            chips.append({"tone": "teal", "kind": kind, "text": f"Trained answer given: {keylabel(record.get('key'))}"})
        elif kind == "transfer_to_human":
            to = record.get("to")
            chips.append(
                {"tone": "purple", "kind": kind, "text": f"Transferred to {to}" if to else "Asked for a person"}
            )
        elif kind == "end_call":
            outcome = LABELS["outcome"].get(record.get("outcome") or "", keylabel(record.get("outcome")))
            chips.append({"tone": "gray", "kind": kind, "text": f"Ended the call: {outcome}"})
        elif kind:
            chips.append({"tone": "gray", "kind": kind, "text": keylabel(kind)})
    return chips


def _when(value):
    try:
        moment = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return timezone.localtime(moment) if timezone.is_aware(moment) else moment


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@register.filter
def training_summary(session) -> str:
    """One line saying what a training session taught."""
    data = session.training_data or {}
    product = session.product_info or {}
    parts = []
    if data.get("script"):
        parts.append(f"script of {_count(len(str(data['script']).split()), 'word')}")
    if product:
        bits = [_count(len(product.get(k) or []), k[:-1]) for k in ("features", "benefits") if product.get(k)]
        if product.get("pricing"):
            bits.insert(0, f"pricing {product['pricing']}")
        parts.append("product: " + ", ".join(bits) if bits else "product description")
    if data.get("objection_responses"):
        keys = list(data["objection_responses"])
        names = ", ".join(keylabel(k) for k in keys[:3]) + ("…" if len(keys) > 3 else "")
        parts.append(f"{_count(len(keys), 'objection')} ({names})")
    if data.get("sales_techniques"):
        parts.append(_count(len(data["sales_techniques"]), "technique"))
    if data.get("faq"):
        parts.append(_count(len(data["faq"]), "question"))
    if data.get("company_info"):
        parts.append("company info")
    if data.get("notes"):
        parts.append("notes")
    if session.client_instructions:
        parts.append("instructions")
    return "; ".join(parts).capitalize() if parts else "—"


@register.simple_tag(takes_context=True)
def page_query(context, number, param: str = "page") -> str:
    """``?...&page=3``: the current query string (filters kept) with one page number changed."""
    query = context["request"].GET.copy()
    query[param or "page"] = number
    return "?" + query.urlencode()


@register.filter
def isodate(value):
    """An ISO timestamp stored in JSON (notes, objections) as a datetime in the active timezone."""
    return _when(value)


@register.filter
def get_item_at(sequence, index):
    try:
        return sequence[int(index)]
    except (IndexError, TypeError, ValueError):
        return None


@register.filter
def half_width(value) -> float:
    """A score in [-1, 1] as the width (0-50 %) of one half of a diverging bar."""
    try:
        return round(min(abs(float(value)), 1.0) * 50, 1)
    except (TypeError, ValueError):
        return 0.0


@register.simple_tag(takes_context=True)
def section_messages(context) -> list:
    """The flash messages for where the partial is included: a page section's own (``extra_tags``
    names it, passed as ``section``), else the page's untagged ones."""
    section = context.get("section") or ""
    return [message for message in context.get("messages") or () if (message.extra_tags or "") == section]
