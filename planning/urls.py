from django.urls import path

from . import views

urlpatterns = [
    path("targets/", views.target_list, name="target-list"),
]
