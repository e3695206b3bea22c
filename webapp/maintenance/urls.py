from django.contrib.auth import views as auth_views
from django.urls import path

from webapp.maintenance import views

urlpatterns = [
    path("", views.machine_list, name="machine-list"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("p/<slug:slug>/", views.report_problem, name="report-problem"),
    path("p/<slug:slug>/thanks/", views.report_thanks, name="report-thanks"),
    path("machines/<slug:slug>/", views.machine_detail, name="machine-detail"),
    path("machines/<slug:slug>/logs/new/", views.log_entry_create, name="log-entry-create"),
    path("problem-reports/", views.problem_report_list, name="problem-report-list"),
    path("problem-reports/<int:pk>/", views.problem_report_detail, name="problem-report-detail"),
    path("logs/<int:pk>/", views.log_entry_detail, name="log-entry-detail"),
]
