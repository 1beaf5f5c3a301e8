from django.apps import AppConfig


class KacrmConfig(AppConfig):
    """The project's plumbing as an app, so that its system checks (kacrm/checks.py) are registered."""

    name = "kacrm"
    verbose_name = "KA CRM"

    def ready(self):
        from . import checks  # noqa: F401
