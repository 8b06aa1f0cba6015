"""Dashboard pages, mounted at /. Every page but sign-up and sign-in needs a signed-in client user."""

from django.urls import path

from dashboard.views import auth as views_auth
from dashboard.views import callbacks as views_callbacks
from dashboard.views import calls as views_calls
from dashboard.views import campaigns as views_campaigns
from dashboard.views import customer_import as views_import
from dashboard.views import customers as views_customers
from dashboard.views import overview as views_overview
from dashboard.views import settings as views_settings
from dashboard.views import simulations as views_simulations
from dashboard.views import simulator as views_simulator
from dashboard.views import training as views_training

app_name = "dashboard"

urlpatterns = [
    path("", views_overview.overview, name="overview"),
    path("signup/", views_auth.signup, name="signup"),
    path("login/", views_auth.SignInView.as_view(), name="login"),
    path("logout/", views_auth.SignOutView.as_view(), name="logout"),
    path("onboarding/", views_auth.onboarding, name="onboarding"),
    path("training/", views_training.training, name="training"),
    path("training/row/", views_training.training_row, name="training-row"),
    path("simulator/", views_simulator.simulator, name="simulator"),
    path("simulator/dial/", views_simulator.simulator_dial, name="simulator-dial"),
    path("simulator/<str:call_sid>/answer/", views_simulator.simulator_answer, name="simulator-answer"),
    path("simulator/<str:call_sid>/say/", views_simulator.simulator_say, name="simulator-say"),
    path("simulator/<str:call_sid>/hangup/", views_simulator.simulator_hangup, name="simulator-hangup"),
    path("simulations/", views_simulations.simulations, name="simulations"),
    path("simulations/start/", views_simulations.simulation_start, name="simulation-start"),
    path("simulations/<uuid:run_id>/", views_simulations.simulation_detail, name="simulation-detail"),
    path("calls/", views_calls.call_list_page, name="calls"),
    path("calls/start/", views_calls.call_start, name="call-start"),
    path("calls/<uuid:call_id>/", views_calls.call_detail_page, name="call-detail"),
    path("customers/", views_customers.customer_list_page, name="customers"),
    path("customers/export.csv", views_customers.customer_export, name="customer-export"),
    path("customers/import/", views_import.customer_import, name="customer-import"),
    path("customers/import/<uuid:job_id>/", views_import.customer_import_job, name="customer-import-job"),
    path("customers/<uuid:customer_id>/", views_customers.customer_detail_page, name="customer-detail"),
    path(
        "customers/<uuid:customer_id>/do-not-call/",
        views_customers.customer_do_not_call,
        name="customer-do-not-call",
    ),
    path("callbacks/", views_callbacks.callback_list_page, name="callbacks"),
    path(
        "callbacks/<uuid:callback_id>/reschedule/",
        views_callbacks.callback_reschedule_view,
        name="callback-reschedule",
    ),
    path("campaigns/", views_campaigns.campaign_list_page, name="campaigns"),
    path("campaigns/approvals/", views_campaigns.campaign_approvals, name="campaign-approvals"),
    path("campaigns/<uuid:campaign_id>/", views_campaigns.campaign_detail_page, name="campaign-detail"),
    path("campaigns/<uuid:campaign_id>/results.csv", views_campaigns.campaign_export, name="campaign-export"),
    path(
        "campaigns/<uuid:campaign_id>/imports/<uuid:job_id>/",
        views_campaigns.campaign_import_job,
        name="campaign-import-job",
    ),
    path("campaigns/<uuid:campaign_id>/decision/", views_campaigns.campaign_decision, name="campaign-decision"),
    path(
        "campaigns/<uuid:campaign_id>/leads/<int:lead_id>/decision/",
        views_campaigns.campaign_lead_decision,
        name="campaign-lead-decision",
    ),
    path("campaigns/<uuid:campaign_id>/<str:action>/", views_campaigns.campaign_action, name="campaign-action"),
    path("settings/", views_settings.settings_index, name="settings"),
    path("settings/agent/", views_settings.settings_agent, name="settings-agent"),
    path("settings/agent/status/", views_settings.settings_agent_status, name="settings-agent-status"),
    path("settings/policy/", views_settings.settings_policy, name="settings-policy"),
    path("settings/telephony/", views_settings.settings_telephony, name="settings-telephony"),
    path("callbacks/<uuid:callback_id>/cancel/", views_callbacks.callback_cancel_view, name="callback-cancel"),
]
