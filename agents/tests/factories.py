import factory

from accounts.tests.factories import ClientFactory
from agents.models import AIAgent, AIAgentTraining


class AIAgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AIAgent

    client = factory.SubFactory(ClientFactory)
    name = factory.Sequence(lambda n: f"Agent {n}")
    business_info = factory.LazyAttribute(
        lambda o: {"company_name": o.client.name, "product_description": "Solar panels", "value_proposition": "Save"}
    )


class AIAgentTrainingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AIAgentTraining

    ai_agent = factory.SubFactory(AIAgentFactory)
    training_type = AIAgentTraining.TrainingType.SCRIPT
    training_data = {"script": "Hello, this is [NAME] from [COMPANY]."}
