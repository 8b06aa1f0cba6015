"""What an agent knows: the trainings compiled into one body, and how complete it is.

The training level measures the *material* the agent has, not how often the training
endpoint was called: posting the same script twice teaches nothing new, so it adds nothing.
The points per material are in :func:`training_level`; the status follows the level
(training < 20 % <= learning < 80 % <= active).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

COMPANY_FIELDS = ("company_name", "product_description", "value_proposition")


def _words(text: str) -> int:
    return len((text or "").split())


def _clean_list(values: Any) -> list[str]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple)):
        return []
    return [str(v).strip() for v in values if str(v).strip()]


def compile_knowledge(trainings: Iterable[Any], business_info: dict) -> dict:
    """Fold training sessions (oldest first) into one body; later material overrides earlier."""
    knowledge: dict[str, Any] = {
        "script": "",
        "product_info": {"features": [], "benefits": [], "pricing": "", "description": ""},
        "objection_responses": {},
        "faq": {},
        "sales_techniques": [],
        "client_instructions": [],
        "company_info": {k: (business_info or {}).get(k, "") for k in COMPANY_FIELDS},
    }
    product = knowledge["product_info"]
    for training in trainings:
        data = training.training_data or {}
        if data.get("script"):
            knowledge["script"] = str(data["script"]).strip()
        info = training.product_info or {}
        for key in ("features", "benefits"):
            for item in _clean_list(info.get(key)):
                if item not in product[key]:
                    product[key].append(item)
        for key in ("pricing", "description"):
            if info.get(key):
                product[key] = str(info[key]).strip()
        for key, answer in (data.get("objection_responses") or {}).items():
            if str(key).strip() and str(answer).strip():
                knowledge["objection_responses"][str(key).strip()] = str(answer).strip()
        for question, answer in (data.get("faq") or {}).items():
            if str(question).strip() and str(answer).strip():
                knowledge["faq"][str(question).strip()] = str(answer).strip()
        for technique in _clean_list(data.get("sales_techniques")):
            if technique not in knowledge["sales_techniques"]:
                knowledge["sales_techniques"].append(technique)
        for key in COMPANY_FIELDS:
            if (data.get("company_info") or {}).get(key):
                knowledge["company_info"][key] = str(data["company_info"][key]).strip()
        if (training.client_instructions or "").strip():
            knowledge["client_instructions"].append(training.client_instructions.strip())
        if str(data.get("notes") or "").strip():
            # Prose given with a product, FAQ or company session still teaches the agent.
            knowledge["client_instructions"].append(str(data["notes"]).strip())
    if not product["description"]:
        product["description"] = knowledge["company_info"].get("product_description", "")
    return knowledge


def training_level(knowledge: dict) -> int:
    """The level (0-100) the material in ``knowledge`` is worth (100 points in all).

    =================  ======  ==========================================================
    material           points  full marks at
    =================  ======  ==========================================================
    sales script         25    a script of 60+ words (pro rata below that)
    product details      20    pricing (6) + 3 features (8) + 3 benefits (6)
    objection answers    25    5 distinct trained objections (5 each)
    company info         15    company name, product description, value proposition (5 each)
    sales techniques     10    4 techniques (2.5 each)
    FAQ                   5    5 answered questions (1 each)
    =================  ======  ==========================================================
    """
    product = knowledge.get("product_info", {})
    score = 25 * min(_words(knowledge.get("script", "")), 60) / 60
    score += 6 if product.get("pricing") else 0
    score += 8 * min(len(product.get("features", [])), 3) / 3
    score += 6 * min(len(product.get("benefits", [])), 3) / 3
    score += 5 * min(len(knowledge.get("objection_responses", {})), 5)
    score += sum(5 for k in COMPANY_FIELDS if knowledge.get("company_info", {}).get(k))
    score += 2.5 * min(len(knowledge.get("sales_techniques", [])), 4)
    score += min(len(knowledge.get("faq", {})), 5)
    return max(0, min(100, round(score)))


def level_breakdown(knowledge: dict) -> dict[str, dict[str, float]]:
    """Per-material points and what is missing, for the training page's checklist."""
    product = knowledge.get("product_info", {})
    company = knowledge.get("company_info", {})
    return {
        "script": {"points": round(25 * min(_words(knowledge.get("script", "")), 60) / 60, 1), "max": 25},
        "product": {
            "points": round(
                (6 if product.get("pricing") else 0)
                + 8 * min(len(product.get("features", [])), 3) / 3
                + 6 * min(len(product.get("benefits", [])), 3) / 3,
                1,
            ),
            "max": 20,
        },
        "objections": {"points": 5 * min(len(knowledge.get("objection_responses", {})), 5), "max": 25},
        "company": {"points": sum(5 for k in COMPANY_FIELDS if company.get(k)), "max": 15},
        "techniques": {"points": 2.5 * min(len(knowledge.get("sales_techniques", [])), 4), "max": 10},
        "faq": {"points": min(len(knowledge.get("faq", {})), 5), "max": 5},
    }
