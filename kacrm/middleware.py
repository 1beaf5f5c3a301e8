"""Request-level guards: input no field could store is refused before any view sees it (SPEC §7: never 500)."""
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

NUL = "\x00"


def _has_nul(values) -> bool:
    return any(NUL in key or any(NUL in value for value in value_list) for key, value_list in values.lists())


class RejectNulBytes:
    """A NUL byte in the path, the query string or a form body is a 400: no database text column can hold it.

    JSON bodies are checked by `kacrm.api.JSONParser`, which parses them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        form = request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded", "multipart/form-data"
        )
        if NUL in request.path or _has_nul(request.GET) or (form and _has_nul(request.POST)):
            message = _("The request contains a NUL character, which no field accepts.")
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
