"""The shared tenancy pieces: the base API view and the scoped selectors."""

import pytest
from rest_framework.permissions import AllowAny

from accounts.tenancy import TenantApi
from core.errors import NotFound
from customers.selectors import customer_get, customer_list
from customers.tests.factories import CustomerFactory


def test_an_api_view_cannot_drop_the_tenant_permission():
    with pytest.raises(TypeError, match="drops the tenant permission"):

        class Leaky(TenantApi):
            permission_classes = [AllowAny]


@pytest.mark.django_db
def test_another_clients_customer_is_not_found(agent_a, agent_b):
    theirs = CustomerFactory(ai_agent=agent_b)
    with pytest.raises(NotFound) as missing_other:
        customer_get(agent=agent_a, customer_id=theirs.pk)
    with pytest.raises(NotFound) as missing_none:
        customer_get(agent=agent_a, customer_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFound):
        customer_get(agent=agent_a, customer_id="not-a-uuid")
    assert missing_other.value.message == missing_none.value.message
    assert list(customer_list(agent=agent_a)) == []
