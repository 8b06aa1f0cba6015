"""Writes to agents: set-up, settings, training."""

from __future__ import annotations

from datetime import time
from typing import Any, TypedDict, Unpack

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from accounts.models import Client, SettingChange, User
from accounts.services import setting_changes_record
from agents.knowledge import COMPANY_FIELDS, compile_knowledge, training_level
from agents.models import ACTIVE_THRESHOLD, LEARNING_THRESHOLD, AIAgent, AIAgentTraining
from core.errors import Conflict, ValidationFailed
from core.phone import normalize_e164

AGENT_EXISTS_MESSAGE = "This client already has an AI agent. Read it with GET and change it with PATCH /api/agents/ai/."
# Says nothing of who has the number: that another client uses it is theirs to keep.
PHONE_IN_USE_MESSAGE = "That phone number is not available. Use a number from your own Twilio account."
EMPTY_TRAINING_MESSAGE = (
    "A training session needs some material: training_content, product_details, objection_responses, "
    "sales_techniques, faq, company_info or client_instructions."
)
# The statuses a client sets by hand: pause the agent, or let it run again ("active" resumes,
# and the level then decides whether it is training, learning or active).
SETTABLE_STATUSES = (AIAgent.Status.PAUSED, AIAgent.Status.ACTIVE)


class AgentChanges(TypedDict, total=False):
    name: str
    personality_type: str
    voice_model: str
    language: str
    voice_mode: str
    phone_number: str | None
    working_hours_start: time
    working_hours_end: time
    business_info: dict[str, str]
    sales_goals: dict[str, Any]
    voicemail_message: str
    followup_delay_minutes: int
    followup_max_attempts: int
    status: str


EDITABLE_FIELDS = frozenset(AgentChanges.__annotations__)


def status_for_level(level: int, current: str) -> str:
    """training < 20 % <= learning < 80 % <= active; optimizing and paused are kept."""
    if current in (AIAgent.Status.PAUSED, AIAgent.Status.OPTIMIZING) and level >= ACTIVE_THRESHOLD:
        return current
    if current == AIAgent.Status.PAUSED:
        return current
    if level >= ACTIVE_THRESHOLD:
        return AIAgent.Status.ACTIVE
    if level >= LEARNING_THRESHOLD:
        return AIAgent.Status.LEARNING
    return AIAgent.Status.TRAINING


def _recompile(agent: AIAgent) -> None:
    """Fold every training session into the agent's knowledge and move its level and status.

    The set-up's business info counts as company material only once the agent has had a
    training session: a freshly set-up agent is blank (level 0, nothing in its breakdown),
    so the level always equals the sum of the breakdown the client sees.
    """
    trainings = list(agent.trainings.order_by("created_at"))
    agent.knowledge = compile_knowledge(trainings, agent.business_info if trainings else {})
    agent.training_level = training_level(agent.knowledge)
    agent.status = status_for_level(agent.training_level, agent.status)


def _check_hours(start: time, end: time) -> None:
    # An agent whose day ends before it starts would never be allowed to call anyone.
    if start >= end:
        raise ValidationFailed(
            "working_hours_start must be before working_hours_end.",
            details={"fields": {"working_hours_start": ["Must be before working_hours_end."]}},
        )


def _check_fields(agent: AIAgent) -> None:
    """The model's field rules (choices, lengths, E.164), for callers that skip the API's checks."""
    try:
        agent.clean_fields(exclude=["client"])
    except DjangoValidationError as exc:
        fields = exc.message_dict
        field, messages = next(iter(fields.items()))
        raise ValidationFailed(f"{field}: {messages[0]}", details={"fields": fields}) from None


def _phone(raw: str | None) -> str | None:
    # An empty number means "no number", stored as NULL so the unique constraint ignores it.
    text = (raw or "").strip()
    return normalize_e164(text) if text else None


def _connect_number(agent: AIAgent) -> None:
    """Point a newly set number at this agent's webhooks on the phone network, before it is saved.

    A number another agent already has is refused first, so a client can never repoint someone
    else's number. The phone side lives in ``calls`` (named by a setting, as agents may not
    import calls); it raises a domain error (not on the account, Twilio unreachable) that stops
    the change, so a saved number is always a connected one.
    """
    if not agent.phone_number:
        return
    if AIAgent.objects.filter(phone_number=agent.phone_number).exclude(pk=agent.pk).exists():
        raise Conflict(PHONE_IN_USE_MESSAGE, code="phone_in_use")
    if settings.AGENT_PHONE_NUMBER_CONFIGURER:
        import_string(settings.AGENT_PHONE_NUMBER_CONFIGURER)(agent=agent)


def agent_setup(
    *,
    client: Client,
    name: str,
    personality_type: str = AIAgent.Personality.FRIENDLY,
    voice_model: str = "Polly.Joanna-Neural",
    language: str = "en-US",
    working_hours_start: time = time(9, 0),
    working_hours_end: time = time(18, 0),
    business_info: dict | None = None,
    sales_goals: dict | None = None,
    phone_number: str | None = None,
) -> AIAgent:
    """Create the client's one agent, blank: status training, level 0.

    The business info is kept for the first training session to build on (see
    ``_recompile``); until it has been taught, the agent may not take calls.
    """
    _check_hours(working_hours_start, working_hours_end)
    if AIAgent.objects.filter(client=client).exists():
        raise Conflict(AGENT_EXISTS_MESSAGE, code="agent_exists")
    agent = AIAgent(
        client=client,
        name=name.strip(),
        personality_type=personality_type,
        voice_model=voice_model,
        language=language,
        working_hours_start=working_hours_start,
        working_hours_end=working_hours_end,
        business_info=business_info or {},
        sales_goals=sales_goals or {},
        phone_number=_phone(phone_number),
        status=AIAgent.Status.TRAINING,
        training_level=0,
    )
    _check_fields(agent)
    agent.knowledge = compile_knowledge([], {})
    _connect_number(agent)
    try:
        with transaction.atomic():
            agent.save()
    except IntegrityError:
        # Two set-ups raced, or the number belongs to another agent.
        if AIAgent.objects.filter(client=client).exists():
            raise Conflict(AGENT_EXISTS_MESSAGE, code="agent_exists") from None
        raise Conflict(PHONE_IN_USE_MESSAGE, code="phone_in_use") from None
    return agent


def agent_update(*, agent: AIAgent, changed_by: User | None = None, **changes: Unpack[AgentChanges]) -> AIAgent:
    """Change the agent's settings; only the fields given change.

    ``business_info`` and ``sales_goals`` are merged key by key (an update that names one
    business fact must not erase the others). ``status`` may only be set to ``paused`` or
    ``active``: the other statuses follow from the training level, so setting them by hand
    would let an untrained agent take calls.
    """
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationFailed(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    if "status" in changes and changes["status"] not in SETTABLE_STATUSES:
        raise ValidationFailed(
            "status can only be set to 'paused' (stop calling) or 'active' (resume); "
            "the other statuses follow from the training level."
        )
    if "phone_number" in changes:
        changes["phone_number"] = _phone(changes["phone_number"])
    with transaction.atomic():
        # Locked like training_add, so a concurrent training session's level is not overwritten.
        agent = AIAgent.objects.select_for_update().get(pk=agent.pk)
        number_before = agent.phone_number
        before = {field: getattr(agent, field) for field in changes}
        if "business_info" in changes:
            changes["business_info"] = {**agent.business_info, **(changes["business_info"] or {})}
        if "sales_goals" in changes:
            changes["sales_goals"] = {**agent.sales_goals, **(changes["sales_goals"] or {})}
        for field, value in changes.items():
            setattr(agent, field, value)
        _check_hours(agent.working_hours_start, agent.working_hours_end)
        _check_fields(agent)
        if changes.get("status") == AIAgent.Status.ACTIVE:
            agent.status = status_for_level(agent.training_level, AIAgent.Status.TRAINING)
        if "business_info" in changes:
            _recompile(agent)  # company facts count towards the training level
        if agent.phone_number != number_before:
            _connect_number(agent)
        try:
            with transaction.atomic():
                agent.save()
        except IntegrityError:
            raise Conflict(PHONE_IN_USE_MESSAGE, code="phone_in_use") from None
        setting_changes_record(
            client=agent.client,
            changed_by=changed_by,
            area=SettingChange.Area.AGENT,
            before=before,
            after={field: getattr(agent, field) for field in changes},
        )
    return agent


def _text_map(value: Any, *, field: str) -> dict[str, str]:
    """``{key: text}`` with blank keys and answers dropped; anything else is refused by name."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValidationFailed(f'{field} must map each key to a text answer, e.g. {{"price_too_high": "..."}}.')
    return {str(k).strip(): v.strip() for k, v in value.items() if str(k).strip() and v.strip()}


def _text_list(value: Any, *, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValidationFailed(f"{field} must be a list of texts.")
    seen: list[str] = []
    for item in (v.strip() for v in value):
        if item and item not in seen:
            seen.append(item)
    return seen


def _product(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed("product_details must be an object with features, pricing and benefits.")
    product: dict[str, Any] = {}
    for key in ("features", "benefits"):
        items = _text_list(value.get(key), field=f"product_details.{key}")
        if items:
            product[key] = items
    for key in ("pricing", "description"):
        text = value.get(key)
        if text is not None and not isinstance(text, str):
            raise ValidationFailed(f"product_details.{key} must be a text.")
        if (text or "").strip():
            product[key] = text.strip()
    return product


@transaction.atomic
def training_add(
    *,
    agent: AIAgent,
    training_type: str,
    training_content: str = "",
    product_details: dict | None = None,
    objection_responses: dict | None = None,
    sales_techniques: list[str] | None = None,
    faq: dict | None = None,
    company_info: dict | None = None,
    client_instructions: str = "",
    sales_goals: dict | None = None,
) -> AIAgentTraining:
    """Record a training session, recompile the agent's knowledge and move its level/status.

    The level is recomputed from all the material the agent now has (agents.knowledge), so a
    session that repeats what the agent already knows leaves the level where it was. The
    material is cleaned first (blank answers, duplicate techniques dropped), and a session
    with nothing left in it is refused rather than stored as an empty row.
    """
    if training_type not in AIAgentTraining.TrainingType.values:
        raise ValidationFailed(
            f"Unknown training_type '{training_type}'. Use one of: {', '.join(AIAgentTraining.TrainingType.values)}."
        )
    data: dict[str, Any] = {}
    content = (training_content or "").strip()
    if content:
        # Script sessions teach the greeting; other types keep their prose as notes.
        data["script" if training_type == AIAgentTraining.TrainingType.SCRIPT else "notes"] = content
    if objections := _text_map(objection_responses, field="objection_responses"):
        data["objection_responses"] = objections
    if techniques := _text_list(sales_techniques, field="sales_techniques"):
        data["sales_techniques"] = techniques
    if answers := _text_map(faq, field="faq"):
        data["faq"] = answers
    company = {k: v for k, v in _text_map(company_info, field="company_info").items() if k in COMPANY_FIELDS}
    if company:
        data["company_info"] = company
    product = _product(product_details)
    instructions = (client_instructions or "").strip()
    if not (data or product or instructions):
        raise ValidationFailed(EMPTY_TRAINING_MESSAGE, code="empty_training")
    agent = AIAgent.objects.select_for_update().get(pk=agent.pk)
    session = AIAgentTraining.objects.create(
        ai_agent=agent,
        training_type=training_type,
        training_data=data,
        client_instructions=instructions,
        sales_goals=sales_goals or {},
        product_info=product,
    )
    if sales_goals:
        agent.sales_goals = {**agent.sales_goals, **sales_goals}
    _recompile(agent)
    agent.save(update_fields=["knowledge", "training_level", "status", "sales_goals", "updated_at"])
    session.completion_percentage = agent.training_level
    session.save(update_fields=["completion_percentage"])
    return session
