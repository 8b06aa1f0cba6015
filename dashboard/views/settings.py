"""Settings: the agent, the calling policy and the telephony, each changed through its service.

The agent's settings go through ``agents.services.agent_update``, the policy through
``accounts.services.client_settings_update`` and the Twilio account through
``calls.numbers.twilio_account_connect``; each records who changed what (accounts.SettingChange),
which the page lists. The client is always ``request.client``: nothing in the URL or the form
names a tenant, so another client's agent cannot be reached from here.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import SettingChange
from accounts.selectors import setting_change_list
from accounts.services import client_settings_update
from agents.models import AIAgent
from agents.services import agent_update
from calls.numbers import twilio_account_connect, twilio_numbers_list
from core.errors import DomainError
from dashboard.access import client_page
from dashboard.forms import add_service_error
from dashboard.forms_settings import (
    AgentNumberForm,
    AgentSettingsForm,
    AgentStatusForm,
    CallingPolicyForm,
    TwilioCredentialsForm,
)

logger = logging.getLogger(__name__)

TABS = [
    ("settings-agent", "Agent"),
    ("settings-policy", "Calling policy"),
    ("settings-telephony", "Telephony"),
]


def _page(request: HttpRequest, template: str, area: str, context: dict) -> HttpResponse:
    context |= {"tabs": TABS, "changes": setting_change_list(client=request.client, area=area)}
    return render(request, f"dashboard/settings/{template}", context)


@client_page
@require_GET
def settings_index(request: HttpRequest) -> HttpResponse:
    return redirect("dashboard:settings-agent")


@client_page
@require_http_methods(["GET", "POST"])
def settings_agent(request: HttpRequest) -> HttpResponse:
    agent, client = request.agent, request.client
    initial = {
        "agent_name": agent.name,
        "personality_type": agent.personality_type,
        "language": agent.language,
        "voice_model": agent.voice_model,
        "voice_mode": agent.voice_mode,
        "working_hours_start": agent.working_hours_start,
        "working_hours_end": agent.working_hours_end,
        "transfer_phone_number": client.transfer_phone_number,
        "voicemail_message": agent.voicemail_message,
    }
    form = AgentSettingsForm(
        request.POST or None, initial=initial, current_voice=agent.voice_model, current_language=agent.language
    )
    if request.method == "POST" and form.is_valid():
        try:
            # One form, two owners (the agent, the client's policy): both change or neither.
            with transaction.atomic():
                try:
                    client_settings_update(
                        client=client,
                        changed_by=request.user,
                        transfer_phone_number=form.cleaned_data["transfer_phone_number"],
                    )
                except DomainError as exc:
                    # The only field of this form the policy service checks: say it there.
                    form.add_error("transfer_phone_number", exc.message)
                    raise
                agent_update(agent=agent, changed_by=request.user, **form.agent_changes())
        except DomainError as exc:
            if not form.has_error("transfer_phone_number"):
                add_service_error(form, exc, field_map={"name": "agent_name"})
        else:
            messages.success(request, "Agent settings saved.")
            return redirect("dashboard:settings-agent")
    return _page(
        request,
        "agent.html",
        SettingChange.Area.AGENT,
        {"form": form, "paused": agent.status == AIAgent.Status.PAUSED},
    )


@client_page
@require_POST
def settings_agent_status(request: HttpRequest) -> HttpResponse:
    """Pause the agent (no calls at all) or let it run again."""
    form = AgentStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose to pause or resume the agent.")
        return redirect("dashboard:settings-agent")
    try:
        agent = agent_update(agent=request.agent, changed_by=request.user, status=form.cleaned_data["status"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if agent.status == AIAgent.Status.PAUSED:
            messages.success(request, f"{agent.name} is paused: no calls are placed or answered until you resume.")
        else:
            messages.success(request, f"{agent.name} is running again ({agent.get_status_display().lower()}).")
    return redirect("dashboard:settings-agent")


@client_page
@require_http_methods(["GET", "POST"])
def settings_policy(request: HttpRequest) -> HttpResponse:
    client = request.client
    initial = {
        "timezone": client.timezone,
        "daily_call_limit": client.daily_call_limit,
        "disclosure_enabled": client.disclosure_enabled,
        "disclosure_text": client.disclosure_text,
        "recording_enabled": client.recording_enabled,
    }
    form = CallingPolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            client_settings_update(client=client, changed_by=request.user, **form.cleaned_data)
        except DomainError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Calling policy saved.")
            return redirect("dashboard:settings-policy")
    return _page(request, "policy.html", SettingChange.Area.POLICY, {"form": form})


def _number_form(request: HttpRequest, data=None) -> tuple[AgentNumberForm, str]:
    """The number form: a picker of the client's own numbers when it has its own account."""
    error = ""
    numbers = []
    if request.client.has_twilio_subaccount:
        try:
            numbers = [
                (n.phone_number, n.friendly_name or n.phone_number) for n in twilio_numbers_list(client=request.client)
            ]
        except DomainError as exc:
            error = exc.message
    current = request.agent.phone_number or ""
    if current and numbers and current not in dict(numbers):
        numbers.insert(0, (current, f"{current} (current)"))
    return AgentNumberForm(data, initial={"phone_number": current}, numbers=numbers), error


@client_page
@require_http_methods(["GET", "POST"])
def settings_telephony(request: HttpRequest) -> HttpResponse:
    client = request.client
    credentials_form = TwilioCredentialsForm(
        request.POST if request.POST.get("section") == "credentials" else None,
        initial={"account_sid": client.twilio_subaccount_sid},
    )
    number_data = request.POST if request.POST.get("section") == "number" else None
    if credentials_form.is_bound and credentials_form.is_valid():
        try:
            account = twilio_account_connect(client=client, changed_by=request.user, **credentials_form.cleaned_data)
        except DomainError as exc:
            add_service_error(credentials_form, exc)
        else:
            name = f" ({account.friendly_name})" if account.friendly_name else ""
            messages.success(request, f"Twilio account {account.sid}{name} connected. Now pick your agent's number.")
            return redirect("dashboard:settings-telephony")
    number_form, numbers_error = _number_form(request, number_data)
    if number_form.is_bound and number_form.is_valid():
        try:
            agent = agent_update(
                agent=request.agent, changed_by=request.user, phone_number=number_form.cleaned_data["phone_number"]
            )
        except DomainError as exc:
            add_service_error(number_form, exc)
        else:
            if agent.phone_number:
                messages.success(request, f"{agent.phone_number} now rings {agent.name}.")
            else:
                messages.success(request, f"{agent.name} has no phone number now.")
            return redirect("dashboard:settings-telephony")
    return _page(
        request,
        "telephony.html",
        SettingChange.Area.TELEPHONY,
        {
            "credentials_form": credentials_form,
            "number_form": number_form,
            "numbers_error": numbers_error,
            "has_own_account": client.has_twilio_subaccount,
            "account_sid": client.twilio_subaccount_sid,
            # The number is listed with the telephony changes as well as the agent's.
            "number_changes": [
                c
                for c in setting_change_list(client=client, area=SettingChange.Area.AGENT, limit=50)
                if c.field == "phone_number"
            ][:5],
        },
    )
