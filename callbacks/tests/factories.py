from datetime import timedelta

import factory
from django.utils import timezone

from callbacks.models import ScheduledCallback
from customers.tests.factories import CustomerFactory


class CallbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScheduledCallback

    customer_profile = factory.SubFactory(CustomerFactory)
    ai_agent = factory.LazyAttribute(lambda o: o.customer_profile.ai_agent)
    scheduled_datetime = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=2))
    reason = "Discuss pricing options"
