"""Security headers and production start-up (issue 15, point 5).

A strict Content-Security-Policy on every response; `Cache-Control: private, no-store` on what a signed-in user
gets; no inline script or style in any page of the demo; with DEBUG off, no start without `collectstatic`.
"""
import os
import re
import secrets
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import Client
from django.urls import Resolver404, resolve
from rest_framework.authtoken.models import Token

from org.models import User
from tests.factories import AnalystFactory

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db

STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def policy(response):
    """The Content-Security-Policy header as {directive: [sources]}."""
    directives = (part.split() for part in response["Content-Security-Policy"].split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def cache_control(response):
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@pytest.fixture
def staff():
    return AnalystFactory(username="boss", is_staff=True, is_superuser=True)


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def token_client(user):
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")


# --- Content-Security-Policy -------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, status", [
    ("/", 302), ("/stores/", 200), ("/analytics/matrix/", 200), ("/accounts/", 200), ("/admin/", 200),
    ("/admin/org/user/", 200), ("/api/docs/", 200), ("/api/docs/?script=", 200), ("/healthz", 200),
    ("/no-such-page/", 404),
])
def test_pages_the_admin_and_the_docs_carry_the_strict_policy(staff, url, status):
    response = signed_in(staff).get(url)

    assert response.status_code == status
    assert policy(response) == STRICT


def test_the_login_page_carries_the_strict_policy(client):
    response = client.get("/login/")

    assert response.status_code == 200
    assert policy(response) == STRICT


def test_an_api_answer_to_a_token_carries_the_strict_policy(staff):
    response = token_client(staff).get("/api/v1/stores/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert policy(response) == STRICT


def test_the_swagger_page_loads_its_start_up_script_as_a_file_from_this_server(staff):
    client = signed_in(staff)
    html = client.get("/api/docs/").content.decode()

    assert '<script src="/api/docs/?script="></script>' in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"] == "application/javascript"
    assert "SwaggerUIBundle(" in script.content.decode()


def test_redoc_may_add_its_own_style_elements_by_nonce_and_nothing_else(staff):
    client = signed_in(staff)
    first, second = client.get("/api/redoc/"), client.get("/api/redoc/")

    nonce = re.search(r"'nonce-([^']+)'", first["Content-Security-Policy"]).group(1)
    assert policy(first) == {
        **STRICT,
        "style-src": ["'self'", f"'nonce-{nonce}'", "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
                      "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='"],
        "worker-src": ["blob:"],
    }
    assert f'<script src="/static/js/redoc-init.js" nonce="{nonce}"></script>' in first.content.decode()
    assert nonce not in second["Content-Security-Policy"]
    assert "fonts.googleapis.com" not in first.content.decode()


def test_the_browsable_api_may_keep_drfs_style_attributes_and_nothing_else(staff):
    response = signed_in(staff).get("/api/v1/stores/", HTTP_ACCEPT="text/html")

    assert response["Content-Type"].startswith("text/html")
    assert policy(response) == {**STRICT, "style-src-attr": ["'unsafe-inline'"]}
    assert "<style>" not in response.content.decode()


# --- No inline code in any page -----------------------------------------------------------------------------------

class InlineCode(HTMLParser):
    """Collects what a `script-src 'self'; style-src 'self'` policy would block in an HTML page."""

    URL_ATTRIBUTES = {"href", "src", "action", "formaction"}

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        named = dict(attrs)
        if tag == "script" and "src" not in named and named.get("type") != "application/json":
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name == "style":
                self.found.append(f'<{tag} style="{value}">')
            elif name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            elif name in self.URL_ATTRIBUTES and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:...>")


def inline_code(html):
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def test_the_scanner_finds_each_kind_of_inline_code_and_allows_files_and_data_blocks():
    assert inline_code('<script src="/static/js/app.js" defer></script>'
                       '<script id="d" type="application/json">{"a": 1}</script>') == []
    assert inline_code("<script>alert(1)</script>") == ["inline <script>"]
    assert inline_code("<style>p {}</style>") == ["<style> element"]
    assert inline_code('<p style="color: red">x</p>') == ['<p style="color: red">']
    assert inline_code('<button onclick="go()">x</button>') == ["<button onclick=...>"]
    assert inline_code('<a href="javascript:go()">x</a>') == ["<a href=javascript:...>"]


ROLES = ["admin", "analyst", "ka1", "sup1", "rep1"]
NOT_OURS = ("/admin/", "/api/", "/static/", "/i18n/", "/logout/")


def page_links(html, base):
    links = re.findall(r'<a [^>]*href="([^"#]+)', html)
    return [urljoin(base, link.replace("&amp;", "&")) for link in links]


def crawl(client, start="/", per_view=2, limit=120):
    """(url, html) of the pages reachable from `start` by links, at most `per_view` addresses per view."""
    queue, seen, views, pages = [start], {start}, Counter(), []
    while queue and len(pages) < limit:
        url = queue.pop(0)
        response = client.get(url, follow=True)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        html = response.content.decode()
        pages.append((url, html))
        for link in page_links(html, url):
            parts = urlsplit(link)
            if parts.netloc or parts.path.startswith(NOT_OURS) or link in seen:
                continue
            try:
                view = resolve(parts.path).url_name
            except Resolver404:
                continue
            seen.add(link)
            if views[view] < per_view:
                views[view] += 1
                queue.append(link)
    return pages


def test_no_page_of_the_demo_has_inline_script_or_style_for_any_role():
    call_command("seed_demo", "--stores", "40", "--days", "60", "--seed", "7", "--force", stdout=StringIO())
    found, crawled = [], Counter()
    for username in ROLES:
        client = signed_in(User.objects.get(username=username))
        for url, html in crawl(client):
            crawled[username] += 1
            found += [(username, url, code) for code in inline_code(html)]
    anonymous = Client()
    for url in ["/login/", "/no-such-page/"]:
        found += [("anonymous", url, code) for code in inline_code(anonymous.get(url).content.decode())]

    assert found == []
    assert min(crawled.values()) >= 10, crawled  # each role really walked through the app


# --- Cache-Control ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/planning/today/", "/stores/", "/stores/mine/", "/visits/", "/accounts/",
                                 "/analytics/stores/"])
def test_a_signed_in_page_is_private_and_not_stored(rep, my_store, url):
    response = signed_in(rep).get(url)

    assert response.status_code == 200
    assert {"private", "no-store"} <= cache_control(response)
    assert "public" not in cache_control(response)


@pytest.mark.parametrize("url", ["/api/v1/stores/", "/api/v1/stores/mine/", "/api/v1/visits/", "/api/v1/alerts/"])
def test_an_api_answer_to_a_token_is_private_and_not_stored(rep, my_store, url):
    response = token_client(rep).get(url)

    assert response.status_code == 200
    assert cache_control(response) == {"private", "no-store"}


def test_a_new_token_is_never_stored_by_a_cache(client, rep):
    rep.set_password("a-long-passphrase-1")
    rep.save()

    response = client.post("/api/v1/auth/token/", {"username": rep.username, "password": "a-long-passphrase-1"},
                           content_type="application/json")

    assert response.status_code == 200 and "token" in response.json()
    assert {"private", "no-store"} <= cache_control(response)


def test_an_api_answer_to_a_signed_in_session_is_private_and_not_stored(rep, my_store):
    response = signed_in(rep).get("/api/v1/stores/")

    assert response.status_code == 200
    assert cache_control(response) == {"private", "no-store"}


def test_anonymous_answers_keep_no_store_off(client):
    assert "no-store" not in cache_control(client.get("/healthz"))
    assert "no-store" not in cache_control(client.get("/api/v1/stores/"))


def test_a_static_file_requested_by_a_signed_in_user_is_not_marked_private(rep):
    response = signed_in(rep).get("/static/css/app.css")

    assert response.status_code == 200
    assert not {"private", "no-store"} & cache_control(response)


# --- Production start-up ------------------------------------------------------------------------------------------

@pytest.fixture
def manifest_storage(settings, tmp_path):
    """DEBUG off with WhiteNoise's manifest storage over one small static folder, collected into tmp_path/root."""
    source = tmp_path / "static"
    (source / "css").mkdir(parents=True)
    (source / "css" / "app.css").write_text("body { margin: 0; }\n")
    settings.DEBUG = False
    settings.STATICFILES_DIRS = [source]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATIC_ROOT = tmp_path / "root"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
    settings.WHITENOISE_USE_FINDERS = False
    settings.WHITENOISE_AUTOREFRESH = False
    return source


def startup_errors():
    return [(error.id, error.msg) for error in run_checks(include_deployment_checks=True)
            if error.id.startswith("kacrm.")]


def collectstatic():
    call_command("collectstatic", "--noinput", verbosity=0)


def test_the_deploy_check_fails_when_collectstatic_never_ran(manifest_storage, tmp_path):
    assert startup_errors() == [("kacrm.E001", f"DEBUG is off and {tmp_path}/root/staticfiles.json is missing or "
                                               "unreadable: every page would answer 500.")]


def test_the_deploy_check_passes_once_collectstatic_ran(manifest_storage):
    collectstatic()

    assert startup_errors() == []


def test_the_deploy_check_fails_on_a_static_file_added_after_collectstatic(manifest_storage):
    collectstatic()
    (manifest_storage / "css" / "new.css").write_text("p { color: red; }\n")

    assert [error_id for error_id, _ in startup_errors()] == ["kacrm.E002"]
    assert "(css/new.css)" in startup_errors()[0][1]


def test_the_manifest_is_not_required_with_debug_on_or_by_the_everyday_checks(manifest_storage, settings):
    assert [e.id for e in run_checks() if e.id.startswith("kacrm.")] == []  # migrate, createsuperuser... still run
    settings.DEBUG = True
    assert startup_errors() == []


def test_a_hashed_static_file_keeps_its_long_public_cache_for_a_signed_in_user(manifest_storage, rep):
    collectstatic()
    from django.contrib.staticfiles.storage import staticfiles_storage

    response = signed_in(rep).get(staticfiles_storage.url("css/app.css"))

    assert response.status_code == 200
    assert cache_control(response) == {"max-age=315360000", "public", "immutable"}


def compose_environment():
    """The environment docker-compose.yml gives the app, each ${VAR:-default} at its default."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    resolved = {}
    for name, value in compose["x-app"]["environment"].items():
        if "${DJANGO_SECRET_KEY" in str(value):
            resolved[name] = secrets.token_urlsafe(50)  # the one value compose requires from the operator
        else:
            resolved[name] = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))
    return resolved


def run_with_compose_defaults(tmp_path, *args):
    """Run `python *args` in a fresh interpreter with docker-compose's environment, STATIC_ROOT in tmp_path."""
    settings_module = f"from kacrm.settings import *  # noqa\nSTATIC_ROOT = {str(tmp_path / 'static')!r}\n"
    (tmp_path / "compose_settings.py").write_text(settings_module)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env = {**clean, **compose_environment(), "DJANGO_SETTINGS_MODULE": "compose_settings",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_with_docker_compose_defaults_the_server_refuses_to_start_before_collectstatic_and_deploy_checks_pass_after(
        tmp_path):
    assert compose_environment()["DJANGO_DEBUG"] == "0"

    refused = run_with_compose_defaults(tmp_path, "-c", "import kacrm.wsgi")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"django.core.exceptions.ImproperlyConfigured: DEBUG is off and {tmp_path}/static/staticfiles.json is missing "
        "or unreadable: every page would answer 500. Run `python manage.py collectstatic --noinput` with the "
        "production settings before starting the server."
    )

    collected = run_with_compose_defaults(tmp_path, "manage.py", "collectstatic", "--noinput")
    assert collected.returncode == 0, collected.stderr
    checked = run_with_compose_defaults(tmp_path, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("System check identified no issues")
    started = run_with_compose_defaults(tmp_path, "-c", "import kacrm.wsgi")
    assert started.returncode == 0, started.stderr
