"""Twilio webhook routes, mounted at /webhooks/twilio/<agent public id>/."""

urlpatterns: list = []
