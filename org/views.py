from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError

from . import signin


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, through org.signin: refused with the wait while the username or address is locked."""

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


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True
