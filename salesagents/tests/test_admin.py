"""Every model's admin pages render for staff, and stay out of reach for client users."""

from datetime import date

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import SettingChange
from agents.tests.factories import AIAgentTrainingFactory
from callbacks.tests.factories import CallbackFactory
from calls.models import OutboundDayCount
from calls.tests.factories import CallTurnFactory
from campaigns.models import ApprovalDecision, Campaign, CampaignLead
from customers.models import ImportJob
from customers.tests.factories import CustomerFactory
from simulations.models import SimulationRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def populated(agent_a, user_a):
    customer = CustomerFactory(ai_agent=agent_a)
    AIAgentTrainingFactory(ai_agent=agent_a)
    CallbackFactory(customer_profile=customer)
    CallTurnFactory(call__customer_profile=customer)
    OutboundDayCount.objects.create(client=agent_a.client, day=date(2026, 11, 23), placed=3)
    SimulationRun.objects.create(ai_agent=agent_a, personas=["busy"])
    ImportJob.objects.create(ai_agent=agent_a, started_by=user_a, filename="leads.csv")
    SettingChange.objects.create(client=agent_a.client, changed_by=user_a, area="agent", field="name", new_value="Sam")
    campaign = Campaign.objects.create(ai_agent=agent_a, name="Spring")
    lead = CampaignLead.objects.create(campaign=campaign, customer=customer)
    ApprovalDecision.objects.create(campaign=campaign, lead=lead, decision="approved", decided_by=user_a)


def test_staff_can_open_every_changelist_change_and_add_page(client, staff_user, populated, rf):
    client.force_login(staff_user)
    request = rf.get("/admin/")
    request.user = staff_user
    walked = 0
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        if meta.app_label in ("auth", "knox", "django_celery_beat", "axes"):
            continue
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert client.get(changelist).status_code == 200, changelist
        assert client.get(changelist, {"q": "a"}).status_code == 200, changelist
        obj = model.objects.first()
        assert obj is not None, f"no {meta.model_name} to open"
        change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
        assert client.get(change).status_code == 200, change
        add = reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
        # A read-only admin (the settings audit trail) refuses to add, as it should.
        assert client.get(add).status_code == (200 if model_admin.has_add_permission(request) else 403), add
        walked += 1
    assert walked >= 7


def test_client_users_cannot_use_the_admin(client, user_a, populated):
    client.force_login(user_a)
    response = client.get(reverse("admin:customers_customerprofile_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
