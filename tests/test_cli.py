"""The `leadsea` CLI: through call_command, and as the installed console script in a real subprocess."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from leadsea.leads.models import Lead
from leadsea.tenancy.models import Membership, OrgUnit, Tenant
from leadsea.tenancy.services import tenant_create, user_create

LEADSEA = Path(sys.executable).with_name("leadsea")
CJK = re.compile(r"[\u4e00-\u9fff]")


def run(*args: str, **kwargs: Any) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **kwargs)
    return out.getvalue()


# --- call_command ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_tenant_and_user_create(org):
    assert "Created tenant acme2" in run("tenant", "create", "acme2", "--name", "Acme 二", "--language", "en")
    tenant = Tenant.objects.get(slug="acme2")
    assert tenant.name == "Acme 二" and tenant.default_language == "en"
    assert OrgUnit.objects.filter(tenant=tenant, parent__isnull=True, kind="hq").count() == 1
    out = run(
        "user",
        "create",
        "--tenant",
        "acme2",
        "--username",
        "u",
        "--password",
        "long-pass-123",
        "--role",
        "bd",
    )
    assert "u is bd in acme2" in out
    m = Membership.objects.select_related("user").get(tenant=tenant, user__username="u")
    assert m.role == "bd" and authenticate(username="u", password="long-pass-123") == m.user
    # An existing person joins another tenant without a password, into a named org unit.
    out = run(
        "user", "create", "--tenant", "acme", "--username", "u", "--role", "manager", "--org", "朝阳一组"
    )
    assert "u is manager in acme (朝阳一组)" in out
    assert Membership.objects.get(tenant=org.tenant, user=m.user).org_unit_id == org.team_a.pk
    listing = run("tenant", "list")
    assert "acme\t" in listing and "acme2\tAcme 二\ten\tAsia/Shanghai" in listing


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "unit"),
    [
        ("HQ/华北/北京/朝阳二组", "team_b"),  # the form the --org help shows
        ("Acme 团购/华北/北京/朝阳一组", "team_a"),  # from the root by its name
        ("华北/北京/朝阳二组", "team_b"),  # below the root
        ("北京", "city"),
    ],
)
def test_user_create_into_an_org_unit_by_path(org, path, unit):
    out = run(
        *shlex.split(
            f"user create --tenant acme --username x --password long-pass-123 --role bd --org '{path}'"
        )
    )
    assert "x is bd in acme" in out
    member = Membership.objects.get(tenant=org.tenant, user__username="x")
    assert member.org_unit_id == getattr(org, unit).pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("tenant create acme --name again", "duplicate_tenant"),
        ("tenant create Bad_Slug --name x", "slug"),
        ("tenant create ok-slug --name x --time-zone Mars/Base", "time zone"),
        ("user create --tenant nope --username u --password long-pass-123 --role bd", "No tenant nope"),
        (
            "user create --tenant acme --username u --password long-pass-123 --role boss",
            "invalid choice: 'boss'",
        ),
        ("user create --tenant acme --username u --password short --role bd", "weak_password"),
        ("user create --tenant acme --username u --role bd", "password is required"),
        ("user create --tenant acme --username acme-bd1 --role bd", "duplicate_member"),
        (
            "user create --tenant acme --username u --password long-pass-123 --role bd --org 火星",
            "No single org unit",
        ),
    ],
)
def test_bad_input_is_a_clear_command_error_and_writes_nothing(org, command, message):
    counts = (Tenant.objects.count(), Membership.objects.filter(tenant=org.tenant).count())
    with pytest.raises(CommandError, match=re.escape(message)):
        run(*command.split())
    assert (Tenant.objects.count(), Membership.objects.filter(tenant=org.tenant).count()) == counts


def _passwords(output: str) -> dict[str, str]:
    return dict(re.findall(r"username=(\S+)\s+password=(\S+)", output))


@pytest.mark.django_db
def test_demo_creates_the_demo_tenant_and_a_second_run_keeps_it():
    first = run("demo", "--pois", "200")
    tenant = Tenant.objects.get(slug="demo")
    members = {
        m.user.username: m
        for m in Membership.objects.filter(tenant=tenant).select_related("user", "org_unit")
    }
    assert set(members) == {"admin", "manager", "bd1", "bd2", "bd3", "bd4"}
    assert members["admin"].role == "admin" and members["manager"].role == "manager"
    assert {members[f"bd{i}"].org_unit.name for i in range(1, 5)} == {"朝阳一组", "朝阳二组"}
    assert all(members[f"bd{i}"].role == "bd" for i in range(1, 5))
    units = set(OrgUnit.objects.filter(tenant=tenant).values_list("name", flat=True))
    assert {"朝阳一组", "朝阳二组"} <= units
    leads = list(Lead.objects.filter(tenant=tenant).values("name", "phone", "phones", "lat", "lng"))
    assert len(leads) == 200
    assert all(CJK.search(x["name"]) for x in leads)
    assert len({x["name"] for x in leads}) > 100  # realistic variety, not one name repeated
    for x in leads:
        parsed = phonenumbers.parse(x["phone"], None)
        assert x["phone"].startswith("+86") and phonenumbers.is_valid_number(parsed), x["phone"]
        assert x["phones"][0] == x["phone"]
        assert 39.0 < x["lat"] < 41.0 and 115.5 < x["lng"] < 117.5  # around Beijing
    passwords = _passwords(first)
    assert set(passwords) == set(members)
    for username, password in passwords.items():
        assert authenticate(username=username, password=password) is not None, username

    second = run("demo", "--pois", "200")
    assert Lead.objects.filter(tenant=tenant).count() == 200
    assert Tenant.objects.filter(slug="demo").count() == 1
    fresh = _passwords(second)
    assert set(fresh) == set(passwords)
    for username, password in fresh.items():
        assert password != passwords[username]
        assert authenticate(username=username, password=password) is not None, username
        assert authenticate(username=username, password=passwords[username]) is None


@pytest.mark.django_db
def test_demo_leaves_a_person_of_another_tenant_alone():
    # Usernames are global: someone called "manager" in tenant acme2 must not have their password reset (and
    # printed) by `leadsea demo`.
    other = tenant_create(slug="acme2", name="Acme 二")
    user_create(tenant=other, username="manager", password="their-own-pass-1", role="manager")
    output = run("demo", "--pois", "20")
    assert authenticate(username="manager", password="their-own-pass-1") is not None
    assert "manager" not in _passwords(output)
    for username, password in _passwords(output).items():
        assert authenticate(username=username, password=password) is not None


# --- the installed console script ------------------------------------------------------------------


def test_console_script_in_a_subprocess(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "LEADSEA_TEST", "LEADSEA_TENANT")) and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        LEADSEA_VAR_DIR=str(tmp_path / "var"),
        LEADSEA_FAST_HASHER="1",
    )

    def leadsea(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(LEADSEA), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    r = leadsea("tenant", "list")  # before init: an empty database, said so without a traceback
    assert r.returncode == 2 and "has no leadsea tables" in r.stderr and "leadsea init" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    r = leadsea("init")
    assert r.returncode == 0, r.stderr
    assert "Database ready" in r.stdout and (tmp_path / "cli.sqlite3").exists()
    r = leadsea("tenant", "create", "acme2", "--name", "Acme 二")
    assert r.returncode == 0 and "Created tenant acme2" in r.stdout, r.stderr
    r = leadsea(
        "user",
        "create",
        "--tenant",
        "acme2",
        "--username",
        "u",
        "--password",
        "long-pass-123",
        "--role",
        "bd",
    )
    assert r.returncode == 0 and "u is bd in acme2" in r.stdout, r.stderr
    r = leadsea(
        "user",
        "create",
        "--tenant",
        "acme2",
        "--username",
        "v",
        "--password",
        "long-pass-123",
        "--role",
        "boss",
    )
    assert r.returncode != 0 and "invalid choice: 'boss'" in r.stderr
    r = leadsea(
        "user", "create", "--tenant", "nope", "--username", "v", "--password", "long-pass-123", "--role", "bd"
    )
    assert r.returncode != 0 and "No tenant nope" in r.stderr and "Traceback" not in r.stderr
    r = leadsea("tenant", "list")
    assert r.returncode == 0 and r.stdout.splitlines() == ["acme2\tAcme 二\tzh-hans\tAsia/Shanghai"]
    r = leadsea("showmigrations", "tenancy")  # the passthrough to Django's own commands
    assert r.returncode == 0 and "[X] 0001_initial" in r.stdout
