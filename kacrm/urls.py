from django.contrib import admin
from django.urls import include, path
from csp.constants import NONCE
from csp.decorators import csp_update
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from accounts.api import CompetitorPresenceViewSet, DecisionMakerViewSet, KeyAccountViewSet, RelationshipEventViewSet
from alerts.api import AlertViewSet
from analytics.api import AccountScoreViewSet, AnalyticsRunViewSet, PotentialModelView, StoreScoreViewSet
from org.api import ObtainTokenView, RegionViewSet, TeamViewSet, UserViewSet
from planning.api import AccountPlanViewSet, TargetViewSet, VisitPlanViewSet
from stores.api import MarketShareViewSet, StoreViewSet, StoreVisitViewSet

from .views import healthz

handler404 = "kacrm.views.not_found"  # JSON under /api/ (an address no route matches)
handler400 = "kacrm.views.bad_request"  # JSON under /api/ (a body Django cannot parse)

# Redoc writes <style> elements: its own carry this response's nonce (templates/api/redoc.html); the one it adds as
# it loads (perfect-scrollbar's stylesheet, created empty then filled) is allowed by hash. Its search is a blob: worker.
REDOC_CSP = {
    "style-src": [
        NONCE,
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
        "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
    ],
    "worker-src": ["blob:"],
}

router = DefaultRouter()
router.register("users", UserViewSet, basename="user")
router.register("regions", RegionViewSet, basename="region")
router.register("accounts", KeyAccountViewSet, basename="account")
# The dossier, nested under an account: /api/v1/accounts/{code}/decision-makers/{id}/ ...
router.register(r"accounts/(?P<account_code>[^/.]+)/decision-makers", DecisionMakerViewSet, basename="account-decision-maker")
router.register(r"accounts/(?P<account_code>[^/.]+)/events", RelationshipEventViewSet, basename="account-event")
router.register(r"accounts/(?P<account_code>[^/.]+)/competitors", CompetitorPresenceViewSet, basename="account-competitor")
router.register("stores", StoreViewSet, basename="store")
router.register("visits", StoreVisitViewSet, basename="visit")
router.register("market-shares", MarketShareViewSet, basename="market-share")
router.register("scores/stores", StoreScoreViewSet, basename="store-score")
router.register("scores/accounts", AccountScoreViewSet, basename="account-score")
router.register("analytics/runs", AnalyticsRunViewSet, basename="analytics-run")
router.register("alerts", AlertViewSet, basename="alert")
router.register("targets", TargetViewSet, basename="target")
router.register("visit-plans", VisitPlanViewSet, basename="visit-plan")
router.register("teams", TeamViewSet, basename="team")
router.register("account-plans", AccountPlanViewSet, basename="account-plan")

urlpatterns = [
    path("api/v1/auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("api/v1/potential-model/", PotentialModelView.as_view(), name="api-potential-model"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The docs pages under the strict CSP: Swagger UI's start-up script comes as a file (the split view).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html"),
         name="api-docs"),
    path("api/redoc/", csp_update(REDOC_CSP)(
        SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html")), name="api-redoc"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("analytics/", include("analytics.urls")),
    path("alerts/", include("alerts.urls")),
    path("planning/", include("planning.urls")),
    path("", include("org.urls")),
    path("", include("stores.urls")),
    path("accounts/", include("accounts.urls")),
]
