"""Test your agent: the built-in phone in the browser.

Every step goes through ``calls.simulated_phone.SimulatedPhone``, which posts signed
requests to the very webhook views Twilio calls, so a test call runs the real path
(signature check, engine, actions, TwiML) and lands in the calls list like any other.
HTMX appends each step's new turns to the transcript (an aria-live region).
A relay-mode agent is called over a socket instead (``dashboard.consumers``), as Twilio
reaches it; a call already on the page (or dialled without script) goes on through the
simulated phone, which speaks to a relay agent over its socket one step at a time.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from agents.models import AIAgent
from calls.models import CallSession
from calls.selectors import call_by_sid, call_detail
from calls.simulated_phone import SimulatedPhone
from core.errors import DomainError, NotFound
from core.phone import normalize_e164
from dashboard.access import client_page, is_htmx
from dashboard.forms import SimulatorDialForm, SimulatorSayForm
from dashboard.routing import test_phone_path
from dashboard.view_models import last_sequence, ringing_simulated_calls


def _page_url(call_sid: str) -> str:
    return f"{reverse('dashboard:simulator')}?call={call_sid}"


def _phone_context(request: HttpRequest, call: CallSession | None, **extra) -> dict:
    turns = list(call.turns.all()) if call is not None else []
    return {
        "call": call,
        "turns": turns,
        "say_form": SimulatorSayForm(),
        "dial_form": extra.pop("dial_form", None) or SimulatorDialForm(),
        "ringing": ringing_simulated_calls(agent=request.agent) if call is None else [],
        **extra,
    }


def _render_phone(request: HttpRequest, call: CallSession | None, *, status: int = 200, **extra) -> HttpResponse:
    response = render(request, "dashboard/partials/sim_phone.html", _phone_context(request, call, **extra))
    response.status_code = status
    if call is not None and is_htmx(request):
        response["HX-Push-Url"] = _page_url(call.twilio_call_sid)
    return response


def _call_with_turns(request: HttpRequest, call_sid: str) -> CallSession:
    call = call_by_sid(agent=request.agent, call_sid=call_sid)
    return call_detail(agent=request.agent, call_id=call.pk)


@client_page
@require_GET
def simulator(request: HttpRequest) -> HttpResponse:
    call = None
    sid = request.GET.get("call", "")
    if sid:
        try:
            call = _call_with_turns(request, sid)
        except NotFound:
            call = None
    relay = call is None and request.agent.voice_mode == AIAgent.VoiceMode.RELAY
    context = _phone_context(request, call, relay=relay, socket_path=test_phone_path(request.agent))
    return render(request, "dashboard/simulator.html", context)


@client_page
@require_POST
def simulator_dial(request: HttpRequest) -> HttpResponse:
    """Ring the agent from the built-in phone, as a customer would."""
    form = SimulatorDialForm(request.POST)
    if not request.agent.can_take_calls:
        # The webhook would end the call unheard and leave no call to show: the phone says why instead.
        if not is_htmx(request):
            messages.error(request, request.agent.calls_blocked_reason)
            return redirect("dashboard:simulator")
        return _render_phone(request, None, dial_form=form, status=409)
    if form.is_valid():
        try:
            number = normalize_e164(form.cleaned_data["from_number"])
        except DomainError as exc:
            form.add_error("from_number", exc.message)
        else:
            screen = SimulatedPhone(request.agent).dial_in(from_number=number)
            if not is_htmx(request):
                return redirect(_page_url(screen.call_sid))
            return _render_phone(request, _call_with_turns(request, screen.call_sid))
    return _render_phone(request, None, dial_form=form, status=422 if is_htmx(request) else 200)


@client_page
@require_POST
def simulator_answer(request: HttpRequest, call_sid: str) -> HttpResponse:
    """Pick up an outbound call the agent placed to the built-in phone."""
    call = call_by_sid(agent=request.agent, call_sid=call_sid)
    if call.is_final or call.answered_at:
        messages.info(request, "That call is not ringing any more.")
    else:
        SimulatedPhone(request.agent).answer(call)
    if not is_htmx(request):
        return redirect(_page_url(call_sid))
    return _render_phone(request, _call_with_turns(request, call_sid))


@client_page
@require_POST
def simulator_say(request: HttpRequest, call_sid: str) -> HttpResponse:
    """The caller says something; the response is the turns it added, and the new controls."""
    call = call_by_sid(agent=request.agent, call_sid=call_sid)
    form = SimulatorSayForm(request.POST)
    text = form.cleaned_data["text"].strip() if form.is_valid() else ""
    before = last_sequence(call=call)
    phone = SimulatedPhone(request.agent)
    if not call.is_final:
        screen = phone.say(call.twilio_call_sid, text)
        if screen.ended:
            # Twilio reports the end of a call it hung up with a status callback; so does the simulator.
            call.refresh_from_db(fields=["status"])
            if not call.is_final:
                phone.hang_up(call.twilio_call_sid)
    call = _call_with_turns(request, call_sid)
    if not is_htmx(request):
        return redirect(_page_url(call_sid))
    context = _phone_context(request, call)
    context["new_turns"] = [turn for turn in context["turns"] if turn.sequence > before]
    return render(request, "dashboard/partials/sim_step.html", context)


@client_page
@require_POST
def simulator_hangup(request: HttpRequest, call_sid: str) -> HttpResponse:
    call = call_by_sid(agent=request.agent, call_sid=call_sid)
    if not call.is_final:
        SimulatedPhone(request.agent).hang_up(call.twilio_call_sid)
    if not is_htmx(request):
        return redirect(_page_url(call_sid))
    return _render_phone(request, _call_with_turns(request, call_sid))
