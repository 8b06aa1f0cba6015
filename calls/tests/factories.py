import factory

from calls.day_counts import call_day_counts_sync
from calls.models import CallSession, CallTurn
from customers.tests.factories import CustomerFactory


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CallSession

    customer_profile = factory.SubFactory(CustomerFactory)
    ai_agent = factory.LazyAttribute(lambda o: o.customer_profile.ai_agent)
    call_type = CallSession.CallType.OUTBOUND
    status = CallSession.Status.COMPLETED
    twilio_call_sid = factory.Sequence(lambda n: f"CA{n:032d}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Counted like a call the services create, so the dashboard's counters see it.
        call = super()._create(model_class, *args, **kwargs)
        call_day_counts_sync(agent=call.ai_agent, call_ids=[call.pk])
        return call


class CallTurnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CallTurn

    call = factory.SubFactory(CallFactory)
    sequence = factory.Sequence(lambda n: n)
    speaker = CallTurn.Speaker.AGENT
    text = "Hello!"
