from django.urls import path

from . import views

urlpatterns = [
    path("", views.alert_inbox, name="alert-inbox"),
    path("notifications/", views.notification_list, name="notification-list"),
    path("<int:pk>/", views.alert_detail, name="alert-detail"),
    path("<int:pk>/acknowledge/", views.alert_acknowledge, name="alert-acknowledge"),
    path("<int:pk>/follow-up/", views.alert_follow_up, name="alert-follow-up"),
    path("<int:pk>/resolve/", views.alert_resolve, name="alert-resolve"),
]
