from django.apps import AppConfig


class DjangoQBenchConfig(AppConfig):
    name = "bench.djangoq_app"
    label = "djangoq_bench"

    def ready(self) -> None:
        from django.db import transaction
        from django.db.models.signals import post_save
        from django_q.tasks import async_task

        from webapp.maintenance.models import ProblemReport

        def enqueue(sender: type, instance: ProblemReport, created: bool, **kwargs: object) -> None:
            if created:
                report_id = instance.pk
                transaction.on_commit(
                    lambda: async_task("bench.djangoq_app.tasks.post_report", report_id)
                )

        post_save.connect(enqueue, sender=ProblemReport, weak=False)
