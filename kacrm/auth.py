from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle


class UsernameRateThrottle(SimpleRateThrottle):
    """Limits token requests per username, so a password cannot be guessed from many addresses."""

    scope = "login"

    def get_cache_key(self, request, view):
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username:
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"user:{username.lower()}"}


class ObtainTokenView(ObtainAuthToken):
    """POST {"username", "password"} -> {"token"}; throttled per address and per username."""

    throttle_classes = [ScopedRateThrottle, UsernameRateThrottle]
    throttle_scope = "login"
