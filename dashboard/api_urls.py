"""API routes of this app, mounted at /api/ (full sub-paths here keep the seed's exact URLs)."""

urlpatterns: list = []
