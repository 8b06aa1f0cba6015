from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"

    def ready(self) -> None:
        # calls may not import campaigns (DESIGN.md, layers): the lead is settled by a listener
        # calls runs when a call ends, connected here.
        from calls.call_end import call_end_connect
        from campaigns.dispatch import campaign_call_ended

        call_end_connect(campaign_call_ended)
        # Registered wherever Django runs (the beat's schedule names them), as calls' tasks are.
        import campaigns.tasks  # noqa: F401
