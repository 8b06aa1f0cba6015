"""Dashboard pages, mounted at /."""

urlpatterns: list = []
