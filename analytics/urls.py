from django.urls import path

from . import views

urlpatterns = [
    path("stores/", views.score_list, name="score-list"),
    path("matrix/", views.score_matrix, name="score-matrix"),
    path("matrix/accounts/", views.account_matrix, name="account-matrix"),
    path("comparison/", views.score_comparison, name="score-comparison"),
    path("model/", views.potential_model, name="potential-model"),
    path("suspects/", views.suspect_list, name="suspect-list"),
    path("suspects/<int:pk>/confirm/", views.suspect_confirm, name="suspect-confirm"),
]
