"""Run against an upgraded database (DATABASE_URL); prints what tests/org/test_upgrade.py compares, as JSON."""
import json
import os

import django

os.environ["DJANGO_SETTINGS_MODULE"] = "kacrm.settings"  # the real password hashers: the dump has PBKDF2 hashes
django.setup()

from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.test import Client  # noqa: E402

from org.models import User  # noqa: E402
from stores.models import StoreVisit  # noqa: E402

rep = User.objects.get(username="rep1")
browser = Client()
login = browser.post("/login/", {"username": "rep1", "password": "demo"})
api = Client(HTTP_AUTHORIZATION="Token " + "0" * 39 + "1")
visits = api.get("/api/v1/visits/?page_size=100").json()
dossier = Client()
dossier.post("/login/", {"username": "ka1", "password": "demo"})
print(json.dumps({
    "users": sorted(User.objects.values_list("username", "role")),
    "rep": [rep.region.code, rep.team.name, rep.stores.get().code],
    "supervised": list(User.objects.get(username="sup1").supervised_regions.values_list("code", flat=True)),
    "visits": StoreVisit.objects.filter(store__code="s1").count(),
    "visit_history": StoreVisit.audit.filter(store__code="s1", history_type="+").count(),
    "login_redirect": login.status_code,
    "home_after_login": browser.get("/stores/").status_code,
    "api_visits": [visits["count"], sorted(v["total_sales"] for v in visits["results"])[:3]],
    "account_coded_login": dossier.get("/accounts/login/").status_code,
    "content_types": sorted(ContentType.objects.filter(model__in=["user", "region", "team"]).values_list("app_label", "model")),
    "user_permissions": sorted(ContentType.objects.get(app_label="org", model="user").permission_set.values_list("codename", flat=True)),
}))
