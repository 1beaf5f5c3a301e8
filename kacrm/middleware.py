"""Request-level guards: input no field could store is refused before any view sees it (SPEC §7: never 500)."""
from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware
from django.http import HttpResponseBadRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.cache import patch_cache_control
from rest_framework.renderers import BrowsableAPIRenderer
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
        try:
            refused = NUL in request.path or _has_nul(request.GET) or (form and _has_nul(request.POST))
        except MultiPartParserError:  # e.g. multipart without a boundary: answered here, without a logged traceback
            return self._bad_request(request, _("The request could not be read."))
        if refused:
            return self._bad_request(request, _("The request contains a NUL character, which no field accepts."))
        return self.get_response(request)

    @staticmethod
    def _bad_request(request, message):
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


class NoStoreWhenSignedIn:
    """A response to a signed-in user (session or API token) is `Cache-Control: private, no-store`.

    No shared cache may serve one user's page to another, and no browser keeps it on disk or shows it again
    from its history after logout. Static files never get here: WhiteNoise answers them first, with its long cache.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # DRF puts the user of a token on the request while the view runs, so this sees both kinds.
        if "HTTP_AUTHORIZATION" in request.META or request.user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response


class ContentSecurityPolicy(CSPMiddleware):
    """django-csp's policy (settings.CONTENT_SECURITY_POLICY), with one exception.

    The pages of DRF's browsable API come from DRF's templates, which set a few `style=""` attributes (the
    Filters button...): those pages, and no other, may keep inline style attributes. No script is let in.
    """

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if isinstance(getattr(response, "accepted_renderer", None), BrowsableAPIRenderer):
            parts.update = {**(parts.update or {}), "style-src-attr": [UNSAFE_INLINE]}
        return parts
