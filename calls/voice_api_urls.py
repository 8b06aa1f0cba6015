from django.urls import path

from calls import voice_api

urlpatterns = [
    path("agents/ai/start-call/", voice_api.StartCallApi.as_view(), name="api-start-call"),
    path(
        "agents/ai/phone-number/configure/",
        voice_api.PhoneNumberConfigureApi.as_view(),
        name="api-agent-phone-number-configure",
    ),
    path("simulator/calls/", voice_api.SimulatorDialInApi.as_view(), name="api-simulator-dial-in"),
    path("simulator/calls/<str:call_sid>/say/", voice_api.SimulatorSayApi.as_view(), name="api-simulator-say"),
    path("simulator/calls/<str:call_sid>/answer/", voice_api.SimulatorAnswerApi.as_view(), name="api-simulator-answer"),
    path("simulator/calls/<str:call_sid>/hangup/", voice_api.SimulatorHangUpApi.as_view(), name="api-simulator-hangup"),
]
