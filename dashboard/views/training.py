"""Training: teach the agent (one form per kind of material), see its level and its history.

Every post is one training session through ``agents.services.training_add``, which owns the
rules (what counts, the level, the status); this page only shows what it decided.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from agents.knowledge import COMPANY_FIELDS, level_breakdown
from agents.models import ACTIVE_THRESHOLD, LEARNING_THRESHOLD
from agents.services import training_add
from core.errors import DomainError
from dashboard.access import client_page, paginate
from dashboard.forms import SALES_TECHNIQUES, TRAINING_FORMS, add_service_error
from dashboard.view_models import training_history

KNOWN_TECHNIQUES = frozenset(value for value, _ in SALES_TECHNIQUES)
MATERIALS = {
    "script": ("Sales script", "A script of 60+ words gives full marks."),
    "product": ("Product details", "Pricing, three features and three benefits."),
    "objections": ("Objection answers", "Five distinct objections with answers."),
    "company": ("Company info", "Company name, what you sell, why customers buy."),
    "techniques": ("Sales techniques", "Four techniques."),
    "faq": ("FAQ", "Five answered questions."),
}


def _initial_forms(agent) -> dict:
    knowledge = agent.knowledge or {}
    product = knowledge.get("product_info") or {}
    company = knowledge.get("company_info") or {}
    return {
        "script": TRAINING_FORMS["script"](initial={"training_content": knowledge.get("script", "")}),
        "product": TRAINING_FORMS["product"](
            initial={
                "description": product.get("description", ""),
                "pricing": product.get("pricing", ""),
                "features": "\n".join(product.get("features") or []),
                "benefits": "\n".join(product.get("benefits") or []),
            }
        ),
        "techniques": TRAINING_FORMS["techniques"](
            initial={
                "techniques": [t for t in knowledge.get("sales_techniques") or [] if t in KNOWN_TECHNIQUES],
                "other": "\n".join(t for t in knowledge.get("sales_techniques") or [] if t not in KNOWN_TECHNIQUES),
            }
        ),
        "company": TRAINING_FORMS["company"](
            initial={k: company.get(k) or (agent.business_info or {}).get(k, "") for k in COMPANY_FIELDS}
        ),
        "objections": TRAINING_FORMS["objections"](),
        "faq": TRAINING_FORMS["faq"](),
    }


def _table_rows(form, trained: dict[str, str]) -> list[dict]:
    """The editable table's rows: what was just posted (to fix an error), else what the agent knows.

    A trained row has no remove button: training only ever adds material (agents.knowledge
    folds sessions together), so removing it here would not make the agent forget it.
    Changing its answer and saving re-trains it with the new answer.
    """
    if form.is_bound:
        return [{"key": k, "value": v, "removable": k not in trained} for k, v in form.pairs]
    rows = [{"key": k, "value": v, "removable": False} for k, v in trained.items()]
    return rows or [{"key": "", "value": "", "removable": True}]


def _context(request: HttpRequest, forms: dict, *, open_section: str = "") -> dict:
    agent = request.agent
    knowledge = agent.knowledge or {}
    breakdown = level_breakdown(knowledge)
    materials = [
        {
            "key": key,
            "label": MATERIALS[key][0],
            "hint": MATERIALS[key][1],
            "points": points["points"],
            "max": points["max"],
            "percent": round(100 * points["points"] / points["max"]) if points["max"] else 0,
        }
        for key, points in breakdown.items()
    ]
    return {
        "forms": forms,
        "materials": materials,
        "knowledge": knowledge,
        "objection_rows": _table_rows(forms["objections"], knowledge.get("objection_responses") or {}),
        "faq_rows": _table_rows(forms["faq"], knowledge.get("faq") or {}),
        "history": paginate(request, training_history(agent=agent), per_page=10),
        "learning_threshold": LEARNING_THRESHOLD,
        "active_threshold": ACTIVE_THRESHOLD,
        "company_name": (knowledge.get("company_info") or {}).get("company_name")
        or (agent.business_info or {}).get("company_name")
        or request.client.name,
        "open_section": open_section,
    }


@client_page
@require_http_methods(["GET", "POST"])
def training(request: HttpRequest) -> HttpResponse:
    agent = request.agent
    forms = _initial_forms(agent)
    section = ""
    if request.method == "POST":
        section = request.POST.get("section", "")
        form_class = TRAINING_FORMS.get(section)
        if form_class is None:
            messages.error(request, "Unknown training section.")
            return redirect("dashboard:training")
        form = form_class(request.POST)
        forms[section] = form
        if form.is_valid():
            before = agent.training_level
            try:
                session = training_add(agent=agent, training_type=form.training_type, **form.service_kwargs())
            except DomainError as exc:
                add_service_error(form, exc)
            else:
                after = session.completion_percentage
                change = f"{before}% → {after}%" if after != before else f"still {after}% (nothing new to learn)"
                # Said inside the section just saved: the redirect scrolls there, not to the top of the page.
                messages.success(
                    request,
                    f"{session.get_training_type_display()} saved. Training level {change}.",
                    extra_tags=section,
                )
                return redirect(f"{request.path}#{section}")
    return render(request, "dashboard/training.html", _context(request, forms, open_section=section))


@client_page
@require_GET
def training_row(request: HttpRequest) -> HttpResponse:
    """One empty row of the objection or FAQ table (HTMX appends it)."""
    kind = request.GET.get("kind")
    if kind not in ("objection", "faq"):
        raise Http404("Unknown table.")
    return render(request, "dashboard/partials/training_row.html", {"kind": kind, "removable": True})
