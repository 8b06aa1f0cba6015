from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self):
        from core.api_fields import refuse_non_text_for_char_fields

        refuse_non_text_for_char_fields()
