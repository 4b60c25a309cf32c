"""leadsea demo: the demo tenant (one city, two teams, admin, manager, bd1..bd4) with thousands of POIs.

Idempotent: a second run keeps the data and sets fresh passwords, which it prints."""

from __future__ import annotations

import random
import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from leadsea.audit.models import ChangeLog
from leadsea.core import clock, geo
from leadsea.core.tenancy_guard import unscoped
from leadsea.leads.demo_data import generate_pois
from leadsea.leads.models import Lead, LeadTag
from leadsea.leads.normalize import fold_text, phone_search_forms
from leadsea.leads.services import lead_snapshot
from leadsea.metadata.services import field_definition_create
from leadsea.metadata.values import custom_values_rebuild
from leadsea.pipeline.models import Stage
from leadsea.pools import rules
from leadsea.pools.models import LedgerEntry
from leadsea.pools.selectors import default_pool
from leadsea.tenancy.models import Membership, OrgUnit, Tenant
from leadsea.tenancy.services import org_root, org_unit_create, tenant_create, user_create

SLUG = "demo"
USERS = [  # username, role, org unit, display name
    ("admin", Membership.Role.ADMIN, None, "系统管理员"),
    ("manager", Membership.Role.MANAGER, "北京", "王经理"),
    ("bd1", Membership.Role.BD, "朝阳一组", "张伟"),
    ("bd2", Membership.Role.BD, "朝阳一组", "李娜"),
    ("bd3", Membership.Role.BD, "朝阳二组", "刘洋"),
    ("bd4", Membership.Role.BD, "朝阳二组", "陈静"),
]
FIELDS: list[dict[str, Any]] = [
    {
        "key": "avg_price",
        "label_zh": "人均消费",
        "label_en": "Average spend",
        "field_type": "number",
        "min_value": 0,
        "max_value": 100000,
        "help_text": "元",
    },
    {"key": "seats", "label_zh": "座位数", "label_en": "Seats", "field_type": "number", "min_value": 0},
    {
        "key": "level",
        "label_zh": "商户等级",
        "label_en": "Merchant level",
        "field_type": "choice",
        "choices": [
            {"value": "A", "label_zh": "A 类", "label_en": "A"},
            {"value": "B", "label_zh": "B 类", "label_en": "B"},
            {"value": "C", "label_zh": "C 类", "label_en": "C"},
        ],
    },
    {"key": "has_delivery", "label_zh": "有外卖", "label_en": "Has delivery", "field_type": "boolean"},
]


class Command(BaseCommand):
    help = "Create (or refresh the passwords of) the demo tenant with several thousand Beijing POIs."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--pois", type=int, default=3000)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=SLUG).first()
        if tenant is None:
            tenant = self._create(options["pois"], options["seed"])
        passwords = self._reset_passwords(tenant)
        self.stdout.write(self.style.SUCCESS(f"Demo tenant '{SLUG}' ({tenant.name}) is ready. Log in with:"))
        for username, password in passwords:
            if password is None:
                self.stdout.write(
                    f"  tenant={SLUG}  username={username:<8} (a person of another tenant too: "
                    "their own password is left as it is)"
                )
            else:
                self.stdout.write(f"  tenant={SLUG}  username={username:<8} password={password}")

    @transaction.atomic
    def _create(self, n: int, seed: int) -> Tenant:
        now = clock.now()
        tenant = tenant_create(
            slug=SLUG, name="演示团购", default_language="zh-hans", time_zone="Asia/Shanghai"
        )
        root = org_root(tenant=tenant)
        region = org_unit_create(tenant=tenant, name="华北大区", kind=OrgUnit.Kind.REGION, parent=root)
        city = org_unit_create(tenant=tenant, name="北京", kind=OrgUnit.Kind.CITY, parent=region)
        units = {
            "北京": city,
            "朝阳一组": org_unit_create(tenant=tenant, name="朝阳一组", kind=OrgUnit.Kind.TEAM, parent=city),
            "朝阳二组": org_unit_create(tenant=tenant, name="朝阳二组", kind=OrgUnit.Kind.TEAM, parent=city),
        }
        User = get_user_model()
        for username, role, unit, display in USERS:
            if User.objects.filter(username=username).exists():
                user_create(
                    tenant=tenant,
                    username=username,
                    password=None,
                    role=role,
                    org_unit=units.get(unit or ""),
                    display_name=display,
                )
            else:
                user_create(
                    tenant=tenant,
                    username=username,
                    password=secrets.token_urlsafe(12),
                    role=role,
                    org_unit=units.get(unit or ""),
                    display_name=display,
                )
        for spec in FIELDS:
            field_definition_create(tenant=tenant, **spec)
        bds = list(
            Membership.objects.filter(tenant=tenant, role=Membership.Role.BD).values_list(
                "user_id", flat=True
            )
        )
        pool = default_pool(tenant=tenant)
        stages = list(Stage.objects.filter(tenant=tenant, kind=Stage.Kind.OPEN))
        rng = random.Random(seed)
        leads: list[Lead] = []
        tag_lists: list[tuple[str, ...]] = []
        for poi in generate_pois(n, seed=seed):
            custom: dict[str, Any] = {"avg_price": rng.choice([25, 38, 45, 60, 88, 120, 180, 300])}
            if rng.random() < 0.6:
                custom["seats"] = rng.choice([8, 16, 30, 50, 80, 120])
            if rng.random() < 0.7:
                custom["level"] = rng.choice("AABBBCCC")
            custom["has_delivery"] = rng.random() < 0.5
            owner = rng.choice(bds) if rng.random() < 0.08 else None
            lead = Lead(
                tenant=tenant,
                pool=pool,
                kind=Lead.Kind.POI,
                name=poi.name,
                branch_name=poi.branch_name,
                category=poi.category,
                address=poi.address,
                province=poi.province,
                city=poi.city,
                district=poi.district,
                phone=poi.phone,
                phones=[poi.phone],
                lat=poi.lat,
                lng=poi.lng,
                source_channel=poi.source_channel,
                custom_data=custom,
                owner_id=owner,
                status=Lead.Status.FOLLOWING if owner else Lead.Status.NEW,
                stage=rng.choice(stages) if owner and rng.random() < 0.5 else None,
                created_at=now,
                updated_at=now,
            )
            lead.geo_cell = geo.cell_of(poi.lat, poi.lng)
            lead.search_text = " ".join(
                [
                    fold_text(lead.name),
                    fold_text(lead.branch_name),
                    fold_text(lead.address),
                    phone_search_forms(poi.phone),
                ]
            )
            if owner:
                # Claimed 1 to 40 days ago; some visited since: a realistic spread of time to drop.
                claimed = now - timedelta(days=rng.randint(1, 40), hours=rng.randint(0, 23))
                lead.claimed_at = claimed
                rules.apply(lead, rules.on_claim(pool, claimed))
                if rng.random() < 0.6:
                    visited = claimed + (now - claimed) * rng.random()
                    lead.last_visit_at = visited
                    rules.apply(lead, rules.on_visit(lead, pool, visited))
                if lead.stage is not None:
                    lead.last_progress_at = claimed + timedelta(days=1)
                    rules.apply(lead, rules.on_progress(lead, pool, lead.last_progress_at))
                if lead.expires_at is not None and lead.expires_at <= now:  # keep the demo's seas consistent
                    rules.apply(
                        lead, rules.on_extend(lead, (now - lead.expires_at).days + rng.randint(1, 10))
                    )
            leads.append(lead)
            tag_lists.append(poi.tags)
        Lead.objects.bulk_create(leads, batch_size=500)
        custom_values_rebuild(tenant=tenant, object_type="lead")  # the cf_ filters' index, set-based
        from leadsea.intake.services import lead_keys_rebuild

        lead_keys_rebuild(tenant=tenant)  # intake's matching keys, so imports find the demo stores
        LeadTag.objects.bulk_create(
            [
                LeadTag(tenant=tenant, lead=lead, tag=t)
                for lead, tags in zip(leads, tag_lists, strict=True)
                for t in tags
            ],
            batch_size=1000,
        )
        ChangeLog.objects.bulk_create(
            [
                ChangeLog(
                    tenant=tenant,
                    actor=None,
                    action="lead.create",
                    object_type="lead",
                    object_id=lead.pk,
                    before=None,
                    after=lead_snapshot(lead, list(tags)),
                    request_id="demo",
                    created_at=now,
                )
                for lead, tags in zip(leads, tag_lists, strict=True)
            ],
            batch_size=1000,
        )
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    tenant=tenant,
                    lead=lead,
                    pool=pool,
                    action=LedgerEntry.Action.CLAIM,
                    actor_id=lead.owner_id,
                    from_owner=None,
                    to_owner_id=lead.owner_id,
                    clocks=rules.clocks_of(lead),
                    request_id="demo",
                    created_at=lead.claimed_at or now,
                )
                for lead in leads
                if lead.owner_id
            ],
            batch_size=1000,
        )
        self.stdout.write(f"Loaded {len(leads)} POIs around Beijing Guomao.")
        return tenant

    def _reset_passwords(self, tenant: Tenant) -> list[tuple[str, str | None]]:
        result: list[tuple[str, str | None]] = []
        User = get_user_model()
        for username, *_ in USERS:
            user = User.objects.filter(username=username).first()
            if user is None or not Membership.objects.filter(tenant=tenant, user=user).exists():
                continue
            # Usernames are global: a person who also belongs to another tenant keeps their password.
            with unscoped():
                elsewhere = Membership.objects.filter(user=user).exclude(tenant=tenant).exists()
            if elsewhere:
                result.append((username, None))
                continue
            password = f"{username}-{secrets.token_hex(3)}"
            user.set_password(password)
            user.save(update_fields=["password"])
            result.append((username, password))
        return result
