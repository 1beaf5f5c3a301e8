import hashlib

from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy

MAX_FAILED_LOGINS = 10
LOGIN_WINDOW_SECONDS = 15 * 60


def _throttle_keys(request, username: str) -> tuple[str, str]:
    # Hashed so any username makes a valid cache key; REMOTE_ADDR because X-Forwarded-For can be forged.
    user_key = hashlib.sha256(username.strip().lower().encode()).hexdigest()
    return f"login-fail:user:{user_key}", f"login-fail:ip:{request.META.get('REMOTE_ADDR', '')}"


def _record_failure(key: str) -> int:
    cache.add(key, 0, LOGIN_WINDOW_SECONDS)  # the window starts at the first failure
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, LOGIN_WINDOW_SECONDS)
        return 1


class ThrottledAuthenticationForm(AuthenticationForm):
    """Refuses to check passwords after 10 failures for one username or one IP within 15 minutes."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": gettext_lazy("Too many failed sign-in attempts. For your security, wait 15 minutes and try again."),
    }

    def clean(self):
        keys = _throttle_keys(self.request, self.data.get("username", ""))
        if any(count >= MAX_FAILED_LOGINS for count in cache.get_many(keys).values()):
            raise ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            if max(_record_failure(key) for key in keys) >= MAX_FAILED_LOGINS:
                raise ValidationError(self.error_messages["throttled"], code="throttled")
            raise
        cache.delete(keys[0])  # a success forgives this username; the IP count stays
        return cleaned


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True
