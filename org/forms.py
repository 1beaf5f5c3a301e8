from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from . import signin


class LockoutMixin:
    """Checks the password through org.signin: refused, with the wait, while the username or address is locked."""

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = signin.sign_in(self.request, username=username, password=password)
            except signin.LockedOut as locked:
                raise ValidationError(locked.message, code="throttled") from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class ThrottledAuthenticationForm(LockoutMixin, AuthenticationForm):
    """/login/."""


class ThrottledAdminAuthenticationForm(LockoutMixin, AdminAuthenticationForm):
    """/admin/login/: the same lockout and counters, then the admin's own staff check."""
