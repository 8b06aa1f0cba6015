"""Sign-up, sign-in, sign-out and the onboarding that creates the client's agent."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.services import client_signup
from agents.services import agent_setup
from core.errors import DomainError
from dashboard.access import client_page
from dashboard.forms import AgentSetupForm, LoginForm, SignupForm, add_service_error


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create the client business and its owner (accounts.services.client_signup), then sign in."""
    if request.user.is_authenticated and request.user.client_id:
        return redirect("dashboard:overview")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            signed_up = client_signup(**form.cleaned_data)
        except DomainError as exc:
            add_service_error(form, exc)
        else:
            login(request, signed_up.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {signed_up.client.name}! Next: create your AI agent.")
            return redirect("dashboard:onboarding")
    return render(request, "dashboard/auth/signup.html", {"form": form})


class SignInView(LoginView):
    template_name = "dashboard/auth/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class SignOutView(LogoutView):
    """POST only (Django's rule), so a link cannot sign a person out behind their back."""


@client_page(needs_agent=False)
@require_http_methods(["GET", "POST"])
def onboarding(request: HttpRequest) -> HttpResponse:
    """Create the client's one agent, blank (agents.services.agent_setup); then train it."""
    if request.agent is not None:
        return redirect("dashboard:overview")
    initial = {"company_name": request.client.name, "agent_name": "", "personality_type": "friendly"}
    form = AgentSetupForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            agent = agent_setup(client=request.client, **form.service_kwargs())
        except DomainError as exc:
            add_service_error(form, exc, field_map={"name": "agent_name"})
        else:
            messages.success(
                request, f"{agent.name} is ready to learn. Teach it a script, your product and objection answers."
            )
            return redirect("dashboard:training")
    return render(request, "dashboard/onboarding.html", {"form": form})
