"""Users imported with an onboarding (users CSV): passwords are checked and hashed before the transaction
(never inside it), on several threads, with the configured hasher; the import stays all or nothing, and a
user created by someone else in between is handled by name."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.hashers import check_password, identify_hasher
from django.db import connection

from leadsea.audit.models import ChangeLog
from leadsea.core.errors import FieldInvalid
from leadsea.onboarding import services
from leadsea.onboarding.errors import CsvInvalid
from leadsea.onboarding.services import hash_passwords, tenant_onboard
from leadsea.tenancy.models import Membership, Tenant

PASSWORD = "correct-horse-9"
ORG_CSV = "path,kind\n华东,region\n华东/上海,city\n华东/上海/一组,team\n"


def _users_csv(n: int, password: bool = True) -> str:
    rows = ["username,name,role,org,password"]
    rows += [
        f"imp{i:03d},用户{i},bd,华东/上海/一组,{f'pass-word-{i:03d}x' if password else ''}" for i in range(n)
    ]
    return "\n".join(rows) + "\n"


def _spec(**over: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "slug": "import-sh",
        "name": "导入上海",
        "template": "blank",
        "admin": {"username": "import-admin", "password": PASSWORD},
        "org_csv": ORG_CSV,
        "users_csv": _users_csv(12),
    }
    spec.update(over)
    return spec


def _hash_calls(monkeypatch: Any) -> list[bool]:
    """Each password hashed, as whether a transaction was open at that moment."""
    calls: list[bool] = []
    real = services.make_password

    def spy(password: str) -> str:
        calls.append(connection.in_atomic_block)
        return real(password)

    monkeypatch.setattr(services, "make_password", spy)
    monkeypatch.setattr(services, "HASH_THREADS", 1)  # the spy reads this thread's connection state
    return calls


@pytest.mark.django_db(transaction=True)
def test_passwords_are_hashed_before_the_transaction(monkeypatch):
    calls = _hash_calls(monkeypatch)
    done = tenant_onboard(spec=_spec(users_csv=_users_csv(12) + "imp-gen,生成,bd,,\n"))
    assert calls == [False] * 14  # admin, 12 given, 1 made up: none inside the transaction
    for i in (0, 11):
        assert authenticate(username=f"imp{i:03d}", password=f"pass-word-{i:03d}x") is not None
    assert authenticate(username="imp-gen", password=done.generated_passwords["imp-gen"]) is not None
    assert set(done.generated_passwords) == {"imp-gen"}
    assert Membership.objects.filter(tenant=done.tenant).count() == 14
    members = ChangeLog.objects.filter(tenant=done.tenant, action="membership.create").count()
    assert members == 14  # the audit rows of user_create, as before


@pytest.mark.django_db
def test_a_bad_password_is_reported_before_any_hashing(monkeypatch, org):
    calls = _hash_calls(monkeypatch)
    weak = _users_csv(3) + "weakling,弱,bd,,123\n"
    with pytest.raises(CsvInvalid) as err:
        tenant_onboard(spec=_spec(users_csv=weak))
    assert (err.value.line, err.value.code, err.value.field) == (5, "weak_password", "users_csv")
    taken = _users_csv(3) + f"{org.bd1.user.username},老用户,bd,,{PASSWORD}\n"
    with pytest.raises(CsvInvalid) as err:
        tenant_onboard(spec=_spec(users_csv=taken))
    assert (err.value.line, err.value.code) == (5, "user_exists")
    with pytest.raises(FieldInvalid) as spec_err:
        tenant_onboard(spec=_spec(admin={"username": "import-admin", "password": "short"}))
    assert (spec_err.value.code, spec_err.value.field) == ("weak_password", "admin.password")
    assert calls == []
    assert not Tenant.objects.filter(slug="import-sh").exists()
    assert not get_user_model().objects.filter(username__startswith="imp").exists()


@pytest.mark.django_db
def test_a_failure_after_the_hashing_still_rolls_everything_back():
    bad_field = [{"key": "bad", "label_zh": "坏", "field_type": "colour"}]
    users_before = get_user_model().objects.count()
    with pytest.raises(FieldInvalid) as err:
        tenant_onboard(spec=_spec(lead_fields=bad_field))
    assert err.value.field == "lead_fields[0].field_type"
    assert not Tenant.objects.filter(slug="import-sh").exists()
    assert get_user_model().objects.count() == users_before


@pytest.mark.django_db
def test_a_user_created_meanwhile_joins_or_is_refused_by_line(monkeypatch):
    """Between the hashing and the transaction another request creates two of the users: the one given
    a password is `user_exists` (line named, nothing written); given none, they join without a made-up
    password."""
    real = services.onboarding_credentials
    User = get_user_model()

    def and_meanwhile(**kwargs: Any) -> Any:
        out = real(**kwargs)
        for name in created:
            User.objects.create_user(username=name, password="their-own-pass-1")
        return out

    monkeypatch.setattr(services, "onboarding_credentials", and_meanwhile)
    created = ["imp001"]
    with pytest.raises(CsvInvalid) as err:
        tenant_onboard(spec=_spec())
    assert (err.value.line, err.value.code) == (3, "user_exists")
    assert not Tenant.objects.filter(slug="import-sh").exists()
    created = ["imp-late"]
    late = "username,role,password\nimp-late,bd,\nimp-other,bd,pass-word-other\n"
    done = tenant_onboard(spec=_spec(users_csv=late))
    assert "imp-late" not in done.generated_passwords
    assert authenticate(username="imp-late", password="their-own-pass-1") is not None
    assert Membership.objects.filter(tenant=done.tenant, user__username="imp-late").exists()


def test_hash_passwords_keeps_the_order_on_several_threads(monkeypatch, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    monkeypatch.setattr(services, "HASH_THREADS", 4)
    passwords = [f"pw-{i}" for i in range(3)]
    encoded = hash_passwords(passwords)
    assert len(set(encoded)) == 3
    for password, hashed in zip(passwords, encoded, strict=True):
        assert identify_hasher(hashed).algorithm == "pbkdf2_sha256"
        assert check_password(password, hashed)
    assert not check_password("pw-1", encoded[0])
