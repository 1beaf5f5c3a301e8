"""The Spanish and Simplified Chinese catalogues (SPEC §9) are complete and actually served."""

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
CATALOGUES = {
    "es": LOCALE_DIR / "es" / "LC_MESSAGES" / "django.po",
    "zh-hans": LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "django.po",
}


@pytest.fixture(autouse=True)
def _english_around_each_test():
    """Requests activate their language for the thread; never let es or zh-hans leak into other tests."""
    translation.deactivate()
    yield
    translation.deactivate()


def parse_po(path):
    """A small .po reader (entries are separated by blank lines, as makemessages writes them).

    Returns a list of {"msgid", "msgid_plural"?, "msgstr": {keyword: text}, "fuzzy"}.
    """
    entries = []
    for block in Path(path).read_text(encoding="utf-8").split("\n\n"):
        entry, field = {"msgstr": {}, "fuzzy": False}, None
        for line in block.strip().splitlines():
            line = line.strip()
            if line.startswith("#,"):
                entry["fuzzy"] = "fuzzy" in line
            elif line.startswith("#") or not line:
                continue
            elif line.startswith('"'):
                target = entry["msgstr"] if field.startswith("msgstr") else entry
                target[field] += ast.literal_eval(line)
            else:
                field, _, rest = line.partition(" ")
                target = entry["msgstr"] if field.startswith("msgstr") else entry
                target[field] = ast.literal_eval(rest)
        if "msgid" in entry:
            entries.append(entry)
    return entries


@pytest.mark.parametrize("language", sorted(CATALOGUES))
def test_catalogue_has_no_untranslated_or_fuzzy_entry(language):
    path = CATALOGUES[language]
    assert path.exists() and path.with_suffix(".mo").exists()
    entries = [e for e in parse_po(path) if e["msgid"]]  # the header has an empty msgid
    assert len(entries) > 500
    untranslated = [e["msgid"] for e in entries if not all(v.strip() for v in e["msgstr"].values())]
    fuzzy = [e["msgid"] for e in entries if e["fuzzy"]]
    assert untranslated == []
    assert fuzzy == []
    plurals = [e for e in entries if "msgid_plural" in e]
    assert plurals, "the catalogue should hold the plural messages"
    expected_forms = 1 if language == "zh-hans" else 3
    assert all(len(e["msgstr"]) == expected_forms for e in plurals)


@pytest.mark.parametrize(
    "language,expected",
    [
        ("es", {"Sign in": "Iniciar sesión", "My stores": "Mis tiendas", "Key accounts": "Cuentas clave",
                "Wallet share": "Cuota de cartera", "Visit": "Visita"}),
        ("zh-hans", {"Sign in": "登录", "My stores": "我的门店", "Key accounts": "重点客户",
                     "Wallet share": "钱包份额", "Visit": "拜访"}),
    ],
)
def test_catalogue_translates_our_strings(language, expected):
    with translation.override(language):
        for english, translated in expected.items():
            assert translation.gettext(english) == translated
        assert translation.ngettext("%(counter)s store", "%(counter)s stores", 3) != "%(counter)s stores"
    assert translation.gettext("Sign in") == "Sign in"  # tests run in English


@pytest.mark.django_db
@pytest.mark.parametrize("language,sign_in", [("es", "Iniciar sesión"), ("zh-hans", "登录")])
def test_login_page_follows_accept_language(client, language, sign_in):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE=language)
    html = response.content.decode()
    assert response.status_code == 200
    assert sign_in in html
    assert ">Sign in<" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("language,sign_in", [("es", "Iniciar sesión"), ("zh-hans", "登录")])
def test_login_page_follows_language_cookie(client, language, sign_in):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert sign_in in html


@pytest.mark.django_db
def test_login_page_stays_english_by_default(client):
    html = client.get(reverse("login")).content.decode()
    assert "Sign in" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "language,heading,log_out", [("es", "Mis tiendas", "Cerrar sesión"), ("zh-hans", "我的门店", "退出登录")]
)
def test_rep_store_list_is_translated(client, rep, language, heading, log_out):
    client.force_login(rep)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get(reverse("store-list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert f"<h1>{heading}</h1>" in html
    assert log_out in html
    assert "My stores" not in html
