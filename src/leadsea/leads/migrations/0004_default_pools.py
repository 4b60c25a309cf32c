"""Every existing tenant gets its default pool (all members, default policy) and default stages; every
existing lead moves into its tenant's default pool; then a lead's pool becomes required."""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

STAGES = [
    ("contact", "初步接触", "First contact", "open", 10),
    ("needs", "需求确认", "Needs confirmed", "open", 30),
    ("negotiation", "商务谈判", "Negotiation", "open", 60),
    ("contract", "合同审核", "Contract review", "open", 80),
    ("won", "已签约", "Signed", "won", 100),
    ("lost", "输单", "Lost", "lost", 0),
]
REASONS = [
    ("price", "价格或佣金不合适", "Price or commission"),
    ("competitor", "已与竞对合作", "Signed with a competitor"),
    ("no_interest", "商户无合作意向", "Merchant not interested"),
    ("unreachable", "联系不上关键人", "Key person unreachable"),
    ("closed", "门店已关闭", "Store closed"),
    ("other", "其他", "Other"),
]


def forwards(apps, schema_editor):
    Tenant = apps.get_model("tenancy", "Tenant")
    OrgUnit = apps.get_model("tenancy", "OrgUnit")
    Pool = apps.get_model("pools", "Pool")
    PoolMember = apps.get_model("pools", "PoolMember")
    Stage = apps.get_model("pipeline", "Stage")
    LostReason = apps.get_model("pipeline", "LostReason")
    Lead = apps.get_model("leads", "Lead")
    now = timezone.now()
    for tenant in Tenant.objects.all():
        pool = Pool.objects.filter(tenant=tenant, is_default=True).first()
        if pool is None:
            pool = Pool.objects.create(tenant=tenant, name="默认公海", is_default=True, created_at=now)
            root = OrgUnit.objects.filter(tenant=tenant, parent__isnull=True).first()
            if root is not None:
                PoolMember.objects.create(tenant=tenant, pool=pool, org_unit=root)
        if not Stage.objects.filter(tenant=tenant).exists():
            Stage.objects.bulk_create(
                Stage(tenant=tenant, key=k, name_zh=zh, name_en=en, kind=kind, probability=p, position=i)
                for i, (k, zh, en, kind, p) in enumerate(STAGES)
            )
            LostReason.objects.bulk_create(
                LostReason(tenant=tenant, key=k, label_zh=zh, label_en=en) for k, zh, en in REASONS
            )
        Lead.objects.filter(tenant=tenant, pool__isnull=True).update(pool=pool)
        # Leads owned before pools existed start their clocks now.
        Lead.objects.filter(tenant=tenant, owner__isnull=False, claimed_at__isnull=True).update(
            claimed_at=now, protection_until=now + timezone.timedelta(days=45),
            visit_due_at=now + timezone.timedelta(days=15), progress_due_at=now + timezone.timedelta(days=30),
            expires_at=now + timezone.timedelta(days=15), expiry_clock="no_visit",
        )


class Migration(migrations.Migration):
    dependencies = [("leads", "0003_lead_pool"), ("pools", "0001_initial"), ("pipeline", "0001_initial")]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="lead",
            name="pool",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="leads",
                                    to="pools.pool"),
        ),
    ]
