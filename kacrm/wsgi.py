import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kacrm.settings")
application = get_wsgi_application()

# With DEBUG off and no `collectstatic`, every page would be a 500: the server refuses to start instead, saying why.
from kacrm.checks import require_static_manifest  # noqa: E402

require_static_manifest()
