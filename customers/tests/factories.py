import factory

from agents.tests.factories import AIAgentFactory
from customers.models import CustomerProfile


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerProfile

    ai_agent = factory.SubFactory(AIAgentFactory)
    phone_number = factory.Sequence(lambda n: f"+1212555{n % 10000:04d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    timezone = "America/New_York"
