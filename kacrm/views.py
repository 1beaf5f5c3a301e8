from django.db import connection
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.defaults import bad_request as django_bad_request
from django.views.defaults import page_not_found


def healthz(request):
    """Liveness for load balancers and docker-compose: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def not_found(request, exception):
    """handler404: under /api/ the API's error shape (`{"detail"}`, as DRF's 404s), elsewhere the 404 page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return page_not_found(request, exception)


def bad_request(request, exception):
    """handler400 (a body Django cannot parse, such as multipart without a boundary): JSON under /api/, as not_found."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("The request could not be read.")}, status=400)
    return django_bad_request(request, exception)
