from django.urls import path

from . import views

urlpatterns = [
    path("targets/", views.target_list, name="target-list"),
    path("today/", views.today_view, name="today"),
    path("compliance/", views.compliance_view, name="compliance"),
    path("coverage/", views.coverage_view, name="coverage"),
    path("visit-plans/", views.visit_plan_list, name="visit-plan-list"),
    path("accounts/<slug:code>/<int:year>/", views.account_plan_view, name="account-plan"),
]
