from django.urls import path

from . import views

urlpatterns = [
    path("", views.account_list, name="account-list"),
    path("<slug:code>/", views.dossier, name="account-dossier"),
    path("<slug:code>/profile/", views.profile_save, name="account-profile-save"),
    path("<slug:code>/decision-makers/", views.item_save, {"kind": "person"}, name="account-person-add"),
    path("<slug:code>/decision-makers/<int:pk>/", views.item_save, {"kind": "person"}, name="account-person-save"),
    path("<slug:code>/decision-makers/<int:pk>/delete/", views.item_delete, {"kind": "person"}, name="account-person-delete"),
    path("<slug:code>/events/", views.item_save, {"kind": "event"}, name="account-event-add"),
    path("<slug:code>/events/<int:pk>/", views.item_save, {"kind": "event"}, name="account-event-save"),
    path("<slug:code>/events/<int:pk>/delete/", views.item_delete, {"kind": "event"}, name="account-event-delete"),
    path("<slug:code>/competitors/", views.item_save, {"kind": "competitor"}, name="account-competitor-add"),
    path("<slug:code>/competitors/<int:pk>/", views.item_save, {"kind": "competitor"}, name="account-competitor-save"),
    path("<slug:code>/competitors/<int:pk>/delete/", views.item_delete, {"kind": "competitor"}, name="account-competitor-delete"),
]
