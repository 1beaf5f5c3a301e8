"""Production start-up checks: `manage.py check --deploy` reports them, and kacrm/wsgi.py refuses to start on them."""
from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

COLLECTSTATIC = "python manage.py collectstatic --noinput"


@register(Tags.staticfiles, deploy=True)
def check_static_manifest(app_configs=None, **kwargs):
    """With DEBUG off, every static file must be in the manifest of `collectstatic`: else its pages are a 500."""
    if settings.DEBUG or not isinstance(staticfiles_storage, ManifestFilesMixin):
        return []
    try:
        collected = staticfiles_storage.load_manifest()[0] if staticfiles_storage.read_manifest() else None
    except ValueError:  # not a manifest Django can read
        collected = None
    if collected is None:
        return [Error(
            f"DEBUG is off and {staticfiles_storage.path(staticfiles_storage.manifest_name)} is missing or "
            "unreadable: every page would answer 500.",
            hint=f"Run `{COLLECTSTATIC}` with the production settings before starting the server.",
            id="kacrm.E001",
        )]
    ignore = apps.get_app_config("staticfiles").ignore_patterns
    found = {path for finder in finders.get_finders() for path, _storage in finder.list(ignore)}
    missing = sorted(found - collected.keys())
    if missing:
        return [Error(
            f"{len(missing)} static file(s) were added after the last collectstatic and are not in its manifest "
            f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): the pages using them would answer 500.",
            hint=f"Run `{COLLECTSTATIC}` again (on every deploy).",
            id="kacrm.E002",
        )]
    return []


def require_static_manifest():
    """Raise ImproperlyConfigured, saying what to run, when check_static_manifest finds a problem."""
    errors = check_static_manifest()
    if errors:
        raise ImproperlyConfigured(" ".join(f"{error.msg} {error.hint}" for error in errors))
