"""API routes of this app, mounted at /api/ (full sub-paths here keep the seed's exact URLs)."""

from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/signup/", api.SignupApi.as_view(), name="api-auth-signup"),
    path("auth/login/", api.LoginApi.as_view(), name="api-auth-login"),
    path("auth/logout/", api.LogoutApi.as_view(), name="api-auth-logout"),
    path("auth/me/", api.MeApi.as_view(), name="api-auth-me"),
    path("auth/tokens/", api.ApiTokenListApi.as_view(), name="api-auth-tokens"),
    path("auth/tokens/<str:token_id>/", api.ApiTokenDetailApi.as_view(), name="api-auth-token"),
    path("account/settings/", api.ClientSettingsApi.as_view(), name="api-account-settings"),
]
