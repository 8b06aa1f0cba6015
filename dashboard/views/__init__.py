"""The dashboard pages, one module per area; `dashboard/urls.py` maps them."""
