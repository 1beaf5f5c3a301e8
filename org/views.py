from django.contrib.auth.views import LoginView

from .forms import ThrottledAuthenticationForm


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True
