import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kacrm.settings")
application = get_wsgi_application()

# With DEBUG off and no `collectstatic`, every page would be a 500: the server refuses to start instead, saying why.
from kacrm.checks import require_static_manifest  # noqa: E402

require_static_manifest()

# What is loaded by now lives as long as the worker: frozen out of the garbage collector's sight, a full collection
# walks one request's objects instead of the app's ~230,000 as well (pauses of 100-125 ms in a worker's p95 at
# 100,000 stores). The URLconf first, so that the views, serializers and forms are among them.
import gc  # noqa: E402

from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns
gc.freeze()
