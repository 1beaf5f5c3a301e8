from django.contrib.auth import views as auth_views
from django.urls import path

from planning.views import ThrottledLoginView

from . import views

urlpatterns = [
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("stores/", views.store_list, name="store-list"),
    path("stores/<slug:code>/", views.store_detail, name="store-detail"),
    path("reps/", views.rep_list, name="rep-list"),
    path("visits/", views.visit_list, name="visit-list"),
]
