import factory

from agents.tests.factories import AIAgentFactory
from customers.level_counts import customer_level_counts_sync
from customers.models import CustomerProfile


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerProfile

    ai_agent = factory.SubFactory(AIAgentFactory)
    phone_number = factory.Sequence(lambda n: f"+1212555{n % 10000:04d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    timezone = "America/New_York"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Counted like a customer the services create, so the dashboard's counters see it.
        customer = super()._create(model_class, *args, **kwargs)
        customer_level_counts_sync(customer_ids=[customer.pk])
        return customer
