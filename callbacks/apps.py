from django.apps import AppConfig


class CallbacksConfig(AppConfig):
    name = "callbacks"
    verbose_name = "Callbacks"

    def ready(self) -> None:
        # Opting out is a customer rule, but it must cancel callbacks, which ``customers`` may
        # not import (DESIGN.md, layers): hand it the canceller (docs/adr/0013).
        from callbacks.services import callbacks_cancel_for_customer
        from customers.services import customer_opt_out_connect

        customer_opt_out_connect(
            cancel_open_callbacks=lambda customer, reason: callbacks_cancel_for_customer(
                customer=customer, reason=reason
            )
        )
