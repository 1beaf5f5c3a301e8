from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("stores/", views.store_list, name="store-list"),
    path("stores/<slug:code>/", views.store_detail, name="store-detail"),
    path("reps/", views.rep_list, name="rep-list"),
    path("visits/", views.visit_list, name="visit-list"),
]
