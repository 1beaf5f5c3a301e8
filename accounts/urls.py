from django.urls import path

from . import views

urlpatterns = [
    path("", views.account_list, name="account-list"),
    path("<slug:code>/", views.dossier, name="account-dossier"),
    path("<slug:code>/profile/", views.profile_save, name="account-profile-save"),
    path("<slug:code>/decision-makers/", views.person_save, name="account-person-add"),
    path("<slug:code>/decision-makers/<int:pk>/", views.person_save, name="account-person-save"),
    path("<slug:code>/decision-makers/<int:pk>/delete/", views.person_delete, name="account-person-delete"),
    path("<slug:code>/events/", views.event_save, name="account-event-add"),
    path("<slug:code>/events/<int:pk>/", views.event_save, name="account-event-save"),
    path("<slug:code>/events/<int:pk>/delete/", views.event_delete, name="account-event-delete"),
    path("<slug:code>/competitors/", views.competitor_save, name="account-competitor-add"),
    path("<slug:code>/competitors/<int:pk>/", views.competitor_save, name="account-competitor-save"),
    path("<slug:code>/competitors/<int:pk>/delete/", views.competitor_delete, name="account-competitor-delete"),
]
