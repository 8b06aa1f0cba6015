"""``/api/agents/ai/simulations/``: start a persona simulation of the agent, read its scorecard."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from agents.tenancy import AgentApi
from core.api_schema import errors
from core.pagination import PAGE_PARAMETERS, paginated, paginated_response
from simulations.models import SimulationRun
from simulations.personas import PERSONA_KEYS, PERSONAS
from simulations.selectors import simulation_run_get, simulation_run_list
from simulations.services import simulation_run_start


class GoalSerializer(serializers.Serializer):
    class Meta:
        ref_name = "SimulationGoal"

    key = serializers.CharField()
    label = serializers.CharField()
    reached = serializers.BooleanField()


class MissSerializer(serializers.Serializer):
    class Meta:
        ref_name = "SimulationMiss"

    text = serializers.CharField(help_text="What the persona said.")
    reply = serializers.CharField(allow_blank=True, help_text="What the agent answered.")


class PersonaResultSerializer(serializers.Serializer):
    class Meta:
        ref_name = "SimulationPersonaResult"

    key = serializers.ChoiceField(choices=PERSONA_KEYS)
    name = serializers.CharField()
    description = serializers.CharField()
    call_id = serializers.UUIDField(help_text="The simulated call: its transcript is GET /api/calls/{call_id}/.")
    outcome = serializers.CharField(allow_blank=True)
    goals = GoalSerializer(many=True)
    goals_reached = serializers.IntegerField()
    unanswered_objections = MissSerializer(many=True, help_text="Objections that got no trained answer.")
    unanswered_questions = MissSerializer(many=True, help_text="Questions the training could not answer.")


class SummarySerializer(serializers.Serializer):
    class Meta:
        ref_name = "SimulationSummary"

    personas = serializers.IntegerField()
    goals = serializers.IntegerField()
    goals_reached = serializers.IntegerField()
    unanswered_objections = serializers.IntegerField()
    unanswered_questions = serializers.IntegerField()


class SimulationRunSerializer(serializers.Serializer):
    class Meta:
        ref_name = "SimulationRun"

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=SimulationRun.Status.choices)
    personas = serializers.ListField(child=serializers.ChoiceField(choices=PERSONA_KEYS))
    completed = serializers.IntegerField(help_text="Personas played so far.")
    total = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    results = PersonaResultSerializer(many=True, source="results.personas", default=list)
    summary = SummarySerializer(source="results.summary", allow_null=True, default=None)


class SimulationListApi(AgentApi):
    """Start a run, or list the agent's runs (newest first)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SimulationStart"

        personas = serializers.ListField(
            child=serializers.ChoiceField(choices=PERSONA_KEYS),
            required=False,
            allow_empty=True,
            max_length=len(PERSONAS),
            help_text="The personas to play; all of them when left out or empty.",
        )

    @extend_schema(
        operation_id="simulations_list",
        summary="List persona simulations",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated("PaginatedSimulationRunList", SimulationRunSerializer), **errors(401, 404)},
        tags=["simulations"],
    )
    def get(self, request):
        return paginated_response(
            view=self, queryset=simulation_run_list(agent=self.agent), serializer_class=SimulationRunSerializer
        )

    @extend_schema(
        operation_id="simulations_start",
        summary="Start a persona simulation",
        description="Plays each persona (busy, price-sensitive, has a competitor, hostile, wants a human, "
        "opts out, voicemail) against the agent over the simulated phone, in the background; poll the run "
        "until `status` is `done`. The calls are marked as simulations and left out of every statistic. "
        "409 when the agent cannot take calls yet or a run is already going.",
        request=InputSerializer,
        responses={202: SimulationRunSerializer, **errors(400, 401, 404, 409)},
        tags=["simulations"],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = simulation_run_start(agent=self.agent, persona_keys=data.validated_data.get("personas") or None)
        run.refresh_from_db()  # the task may have run already (eager Celery, or a fast worker)
        return Response(SimulationRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class SimulationDetailApi(AgentApi):
    @extend_schema(
        operation_id="simulations_retrieve",
        summary="A persona simulation and its scorecard",
        responses={200: SimulationRunSerializer, **errors(401, 404)},
        tags=["simulations"],
    )
    def get(self, request, run_id):
        return Response(SimulationRunSerializer(simulation_run_get(agent=self.agent, run_id=run_id)).data)
