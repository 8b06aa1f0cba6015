import factory

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


class CallTurnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CallTurn

    call = factory.SubFactory(CallFactory)
    sequence = factory.Sequence(lambda n: n)
    speaker = CallTurn.Speaker.AGENT
    text = "Hello!"
