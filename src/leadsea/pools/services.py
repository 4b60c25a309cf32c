"""The pool engine: every ownership operation is one transaction that locks what it changes, checks the
pool's policy, maintains the lead's clocks and expires_at, and writes one immutable ledger row.

Lock order, everywhere: the receiving user's quota row, then the lead row. A user's claims therefore
serialize on their quota row (limits hold under parallel requests), and claims of one lead serialize on
the lead row (exactly one owner)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from leadsea.audit.services import change_record
from leadsea.core import clock
from leadsea.core.errors import Conflict, FieldInvalid, NotFound
from leadsea.events.catalog import LEDGER_EVENTS
from leadsea.events.services import emit, ownership_payload
from leadsea.leads.models import Lead
from leadsea.pools import rules, sql
from leadsea.pools.errors import (
    ClaimLimitReached,
    CooldownActive,
    DailyClaimLimitReached,
    ExtensionNotAllowed,
    LeadNotAvailable,
    LockLimitReached,
    NotInPool,
    NotSupervisor,
)
from leadsea.pools.models import POLICY_FIELDS, LedgerEntry, Pool, PoolMember, PoolQuota
from leadsea.pools.selectors import claim_checks, claim_target, held_count, pool_admin_ids_of, pool_ids_of
from leadsea.tenancy.models import Membership, OrgUnit, Tenant
from leadsea.tenancy.selectors import member_in_scope

A = LedgerEntry.Action
MAX_SUPERVISOR_EXTENSION_DAYS = 365


# ---------------------------------------------------------------------------------------------- helpers


def ledger_write(
    lead: Lead,
    action: str,
    *,
    actor_id: int | None,
    from_owner: int | None,
    to_owner: int | None,
    now: datetime,
    reason: str = "",
) -> None:
    """Record an ownership change: the ledger row and its domain event, in the caller's transaction. Every
    service that moves a lead in or out of a private sea writes through here (pools, intake merges)."""
    sql.insert_ledger(
        lead=lead,
        action=action,
        actor_id=actor_id,
        from_owner=from_owner,
        to_owner=to_owner,
        reason=reason,
        clocks=rules.clocks_of(lead),
        now=now,
    )
    # Every ownership change is a domain event too (lead.claimed, lead.dropped, ...), in this transaction.
    emit(
        tenant=lead.tenant_id,
        type=LEDGER_EVENTS[action],
        payload=ownership_payload(lead, action, from_owner=from_owner, to_owner=to_owner, reason=reason),
        actor=actor_id,
        now=now,
    )


def _lock_quota(tenant: Tenant, pool_id: int, user_id: int) -> None:
    """Serialize every operation that gives `user_id` a lead in this pool. On PostgreSQL one upsert both
    creates the quota row on first use and row-locks it until commit. On SQLite, BEGIN IMMEDIATE already
    serializes all writers, so there is nothing to lock."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {PoolQuota._meta.db_table} (tenant_id, pool_id, user_id) VALUES (%s, %s, %s) "
            "ON CONFLICT (tenant_id, pool_id, user_id) DO UPDATE SET user_id = EXCLUDED.user_id",
            [tenant.pk, pool_id, user_id],
        )


def _lock_lead(tenant: Tenant, lead_id: int, pool: Pool | None = None) -> Lead:
    """Lock the lead row (only that row: not its pool, which every claim in the pool would then queue on)."""
    if pool is None:
        lead = (
            Lead.objects.select_for_update(of=("self",))
            .select_related("pool")
            .filter(tenant=tenant, pk=lead_id)
            .first()
        )
    else:  # the claim's hot path: raw SQL, the pool already at hand
        lead = sql.lock_lead(tenant.pk, lead_id)
        if lead is not None and lead.pool_id == pool.pk:
            lead.pool = pool
    if lead is None:
        raise NotFound(_("Lead not found."), code="lead_not_found")
    return lead


def _visible_lead(tenant: Tenant, actor: Membership, lead_id: int, now: datetime) -> Lead:
    from leadsea.leads.selectors import lead_get

    return lead_get(tenant=tenant, membership=actor, lead_id=lead_id, now=now)


def _expire_if_due(lead: Lead, now: datetime) -> None:
    """Drop a lead whose deadline has passed before acting on it, exactly as the sweep would."""
    if lead.owner_id is not None and lead.expires_at is not None and lead.expires_at <= now:
        former, clock_name = lead.owner_id, lead.expiry_clock
        rules.clear(lead)
        lead.updated_at = now
        lead.save()
        ledger_write(
            lead, A.DROP, actor_id=None, from_owner=former, to_owner=None, now=now, reason=clock_name
        )


def supervises(actor: Membership, owner_id: int | None) -> bool:
    """A supervisor: hq/admin over the whole tenant, a manager (or ops) over the BDs in their org subtree."""
    if owner_id is None or actor.role == Membership.Role.BD:
        return False
    if actor.sees_whole_tenant:
        return True
    return (
        owner_id != actor.user_id
        and member_in_scope(tenant=actor.tenant, actor=actor, user_id=owner_id) is not None
    )


def _require_member(tenant: Tenant, pool: Pool, user_id: int, *, field: str | None = None) -> Membership:
    target = (
        Membership.objects.filter(tenant=tenant, user_id=user_id, is_active=True)
        .select_related("org_unit")
        .first()
    )
    if target is None:
        raise FieldInvalid(_("No such member."), code="invalid_user", field=field)
    if pool.pk not in pool_ids_of(tenant=tenant, membership=target):
        raise NotInPool(_("This user is not a member of the lead's pool.") if field else None, field=field)
    return target


def _check_limit(tenant: Tenant, pool: Pool, target: Membership, now: datetime) -> None:
    limit = pool.limit_for(target.role)
    if held_count(tenant=tenant, pool=pool, user_id=target.user_id, now=now) >= limit:
        raise ClaimLimitReached(
            _("%(name)s holds %(limit)s private leads in %(pool)s, the limit.")
            % {"name": target.name, "limit": limit, "pool": pool.name}
        )


def _check_takeable(lead: Lead) -> None:
    if lead.signed_at is not None or lead.status in (Lead.Status.SIGNED, Lead.Status.INVALID):
        raise Conflict(_("A signed or invalid lead cannot be claimed."), code="lead_not_claimable")


def _give(lead: Lead, user_id: int, now: datetime) -> None:
    rules.clear(lead)
    lead.owner_id = user_id
    lead.claimed_at = now
    rules.apply(lead, rules.on_claim(lead.pool, now))
    lead.updated_at = now
    sql.save_pool_state(lead)


def _reason(reason: str | None, *, required: bool) -> str:
    text = (reason or "").strip()
    if required and not text:
        raise FieldInvalid(_("A reason is required."), code="required", field="reason")
    if len(text) > 300:
        raise FieldInvalid(_("reason is longer than 300 characters."), field="reason")
    return text


# ------------------------------------------------------------------------------------------- operations


@transaction.atomic
def lead_claim(*, tenant: Tenant, actor: Membership, lead_id: int, now: datetime | None = None) -> Lead:
    now = now or clock.now()
    # A lead of one's pools may be claimed if it turns out public; one in someone else's private sea answers
    # lead_not_available without saying whose. Leads outside one's pools do not exist for the claimer.
    target = claim_target(tenant=tenant, membership=actor, lead_id=lead_id)
    if target is None or (not target[1] and not actor.sees_whole_tenant):
        raise NotFound(_("Lead not found."), code="lead_not_found")
    pool, in_pool = target
    if not in_pool:
        raise NotInPool()
    _lock_quota(tenant, pool.pk, actor.user_id)
    lead = _lock_lead(tenant, lead_id, pool)
    if lead.pool_id != pool.pk:
        raise Conflict(_("The lead moved to another pool; try again."), code="lead_moved")
    _expire_if_due(lead, now)
    if lead.owner_id == actor.user_id:
        raise Conflict(_("This lead is in your private sea already."), code="already_owned")
    if lead.owner_id is not None:
        raise LeadNotAvailable()
    _check_takeable(lead)
    checks = claim_checks(tenant=tenant, pool=pool, lead_id=lead.pk, user_id=actor.user_id, now=now)
    if checks.last_lost_at is not None:
        until = checks.last_lost_at + timedelta(days=pool.reclaim_cooldown_days)
        raise CooldownActive(
            _("You may claim this lead again from %(time)s.") % {"time": until.isoformat(timespec="minutes")}
        )
    limit = pool.limit_for(actor.role)
    if checks.held >= limit:
        raise ClaimLimitReached(
            _("You hold %(limit)s private leads in %(pool)s, the limit.")
            % {"limit": limit, "pool": pool.name}
        )
    if checks.claimed_today >= pool.daily_claim_limit:
        raise DailyClaimLimitReached(
            _("You have claimed %(limit)s leads today, the daily limit.") % {"limit": pool.daily_claim_limit}
        )
    _give(lead, actor.user_id, now)
    ledger_write(lead, A.CLAIM, actor_id=actor.user_id, from_owner=None, to_owner=actor.user_id, now=now)
    return lead


@transaction.atomic
def lead_release(
    *, tenant: Tenant, actor: Membership, lead_id: int, reason: str, now: datetime | None = None
) -> Lead:
    now = now or clock.now()
    text = _reason(reason, required=True)
    _visible_lead(tenant, actor, lead_id, now)
    lead = _lock_lead(tenant, lead_id)
    _expire_if_due(lead, now)
    if lead.owner_id is None:
        raise Conflict(_("This lead is in the public sea already."), code="lead_not_private")
    if lead.owner_id != actor.user_id and not supervises(actor, lead.owner_id):
        raise LeadNotAvailable()
    if lead.signed_at is not None:
        raise Conflict(_("A signed lead is a merchant now; it cannot be released."), code="lead_signed")
    former = lead.owner_id
    rules.clear(lead)
    lead.updated_at = now
    lead.save()
    ledger_write(
        lead, A.RELEASE, actor_id=actor.user_id, from_owner=former, to_owner=None, now=now, reason=text
    )
    return lead


def _hand_over(
    *,
    tenant: Tenant,
    actor: Membership,
    lead_id: int,
    user_id: int,
    now: datetime,
    action: str,
    reason: str = "",
) -> Lead:
    """assign (public -> BD) and transfer (BD -> BD), both by a supervisor of everyone involved."""
    if actor.role == Membership.Role.BD:
        raise NotSupervisor()
    pool = _visible_lead(tenant, actor, lead_id, now).pool
    target = _require_member(tenant, pool, user_id, field="user_id")
    if not actor.sees_whole_tenant and member_in_scope(tenant=tenant, actor=actor, user_id=user_id) is None:
        raise NotSupervisor(_("You may only hand leads to people in your org subtree."), field="user_id")
    _lock_quota(tenant, pool.pk, user_id)
    lead = _lock_lead(tenant, lead_id)
    _expire_if_due(lead, now)
    former = lead.owner_id
    if action == A.ASSIGN and former is not None:
        raise LeadNotAvailable(_("This lead is in a private sea; transfer it instead."))
    if action == A.TRANSFER:
        if former is None:
            raise Conflict(_("This lead is in the public sea; assign it instead."), code="lead_not_private")
        if former == user_id:
            raise Conflict(_("This lead is in that BD's private sea already."), code="already_owned")
        if not supervises(actor, former):
            raise NotSupervisor(_("You do not supervise the current owner."))
    if lead.signed_at is None:
        _check_takeable(lead)
        if pool.assign_counts_toward_limit:
            _check_limit(tenant, pool, target, now)
        _give(lead, user_id, now)
    else:  # a signed merchant changes hands without pool clocks
        lead.owner_id = user_id
        lead.updated_at = now
        lead.save()
    ledger_write(
        lead, action, actor_id=actor.user_id, from_owner=former, to_owner=user_id, now=now, reason=reason
    )
    return lead


@transaction.atomic
def lead_assign(
    *,
    tenant: Tenant,
    actor: Membership,
    lead_id: int,
    user_id: int,
    reason: str = "",
    now: datetime | None = None,
) -> Lead:
    return _hand_over(
        tenant=tenant,
        actor=actor,
        lead_id=lead_id,
        user_id=user_id,
        now=now or clock.now(),
        action=A.ASSIGN,
        reason=_reason(reason, required=False),
    )


@transaction.atomic
def lead_transfer(
    *,
    tenant: Tenant,
    actor: Membership,
    lead_id: int,
    user_id: int,
    reason: str = "",
    now: datetime | None = None,
) -> Lead:
    return _hand_over(
        tenant=tenant,
        actor=actor,
        lead_id=lead_id,
        user_id=user_id,
        now=now or clock.now(),
        action=A.TRANSFER,
        reason=_reason(reason, required=False),
    )


@transaction.atomic
def lead_extend(
    *,
    tenant: Tenant,
    actor: Membership,
    lead_id: int,
    days: int | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> Lead:
    """Self-service (the owner, up to max_self_extensions of at most self_extension_days) or by a supervisor
    (any length up to a year, with a reason). Every clock moves out by the same days."""
    now = now or clock.now()
    _visible_lead(tenant, actor, lead_id, now)
    lead = _lock_lead(tenant, lead_id)
    _expire_if_due(lead, now)
    pool = lead.pool
    if lead.owner_id is None:
        raise ExtensionNotAllowed(_("Only a lead in a private sea can be extended."))
    if lead.expires_at is None:
        raise ExtensionNotAllowed(_("A locked or signed lead has no deadline to extend."))
    if lead.owner_id == actor.user_id and not actor.sees_whole_tenant:
        if lead.self_extensions_used >= pool.max_self_extensions:
            raise ExtensionNotAllowed(
                _("You have used your %(count)s self-service extension(s) on this lead.")
                % {"count": pool.max_self_extensions}
            )
        days = pool.self_extension_days if days is None else days
        if not 1 <= days <= pool.self_extension_days:
            raise ExtensionNotAllowed(
                _("A self-service extension is 1 to %(max)s days.") % {"max": pool.self_extension_days},
                field="days",
            )
        text = _reason(reason, required=False)
        lead.self_extensions_used += 1
    elif supervises(actor, lead.owner_id) or (actor.sees_whole_tenant and lead.owner_id == actor.user_id):
        if days is None or not 1 <= days <= MAX_SUPERVISOR_EXTENSION_DAYS:
            raise FieldInvalid(
                _("days must be 1 to %(max)s.") % {"max": MAX_SUPERVISOR_EXTENSION_DAYS}, field="days"
            )
        text = _reason(reason, required=True)
    else:
        raise NotSupervisor()
    lead.extension_days += days
    rules.apply(lead, rules.on_extend(lead, days))
    lead.updated_at = now
    lead.save()
    ledger_write(
        lead,
        A.EXTEND,
        actor_id=actor.user_id,
        from_owner=lead.owner_id,
        to_owner=lead.owner_id,
        now=now,
        reason=f"+{days}d {text}".strip(),
    )
    return lead


@transaction.atomic
def lead_lock(
    *, tenant: Tenant, actor: Membership, lead_id: int, reason: str = "", now: datetime | None = None
) -> Lead:
    now = now or clock.now()
    _visible_lead(tenant, actor, lead_id, now)
    lead = _lock_lead(tenant, lead_id)
    _expire_if_due(lead, now)
    if lead.owner_id is None:
        raise Conflict(_("Only a lead in a private sea can be locked."), code="lead_not_private")
    if not supervises(actor, lead.owner_id):
        raise NotSupervisor(_("Only a supervisor of the owner may lock a lead."))
    if lead.locked:
        raise Conflict(_("This lead is locked already."), code="already_locked")
    if lead.signed_at is not None:
        raise Conflict(_("A signed lead needs no lock."), code="lead_signed")
    _lock_quota(tenant, lead.pool_id, lead.owner_id)  # serializes lock counting for this BD
    locked = Lead.objects.filter(
        tenant=tenant, pool_id=lead.pool_id, owner_id=lead.owner_id, locked=True
    ).count()
    if locked >= lead.pool.lock_limit:
        raise LockLimitReached(
            _("This BD has %(limit)s locked leads, the limit.") % {"limit": lead.pool.lock_limit}
        )
    lead.locked = True
    rules.apply(lead, rules.current(lead))
    lead.updated_at = now
    lead.save()
    ledger_write(
        lead,
        A.LOCK,
        actor_id=actor.user_id,
        from_owner=lead.owner_id,
        to_owner=lead.owner_id,
        now=now,
        reason=_reason(reason, required=False),
    )
    return lead


@transaction.atomic
def lead_unlock(
    *, tenant: Tenant, actor: Membership, lead_id: int, reason: str = "", now: datetime | None = None
) -> Lead:
    """Unlocking restarts the clocks from now (time spent locked does not count against the BD)."""
    now = now or clock.now()
    _visible_lead(tenant, actor, lead_id, now)
    lead = _lock_lead(tenant, lead_id)
    if not lead.locked:
        raise Conflict(_("This lead is not locked."), code="not_locked")
    if not supervises(actor, lead.owner_id):
        raise NotSupervisor(_("Only a supervisor of the owner may unlock a lead."))
    lead.locked = False
    rules.apply(lead, rules.on_claim(lead.pool, now))
    lead.updated_at = now
    lead.save()
    ledger_write(
        lead,
        A.UNLOCK,
        actor_id=actor.user_id,
        from_owner=lead.owner_id,
        to_owner=lead.owner_id,
        now=now,
        reason=_reason(reason, required=False),
    )
    return lead


# ------------------------------------------------------------- hooks for visits and the pipeline


@transaction.atomic
def lead_visited(
    *, tenant: Tenant, lead_id: int, user_id: int, visited_at: datetime, now: datetime | None = None
) -> Lead:
    """A verified visit by the owner restarts the no-visit clock. Runs inside the visit's transaction."""
    now = now or clock.now()
    lead = lock_for_write(tenant=tenant, lead_id=lead_id, now=now)
    lead.last_visit_at = max(filter(None, [lead.last_visit_at, visited_at]))
    if lead.owner_id == user_id and lead.claimed_at is not None and lead.signed_at is None:
        rules.apply(lead, rules.on_visit(lead, lead.pool, visited_at))
    lead.updated_at = now
    lead.save()
    return lead


def lead_progressed(*, lead: Lead, now: datetime) -> None:
    """A stage advance restarts the no-progress clock. `lead` must be locked by the caller."""
    lead.last_progress_at = now
    if lead.owner_id is not None and lead.claimed_at is not None and lead.signed_at is None:
        rules.apply(lead, rules.on_progress(lead, lead.pool, now))


def lead_signed(*, lead: Lead, actor_id: int, now: datetime) -> None:
    """Signing takes the lead out of the pool rules. `lead` must be locked by the caller; saves it."""
    lead.signed_at = now
    lead.status = Lead.Status.SIGNED
    lead.locked = False
    rules.apply(lead, rules.current(lead) if lead.protection_until else rules.on_claim(lead.pool, now))
    lead.updated_at = now
    lead.save()
    ledger_write(lead, A.SIGN, actor_id=actor_id, from_owner=lead.owner_id, to_owner=lead.owner_id, now=now)


def lock_for_write(*, tenant: Tenant, lead_id: int, now: datetime) -> Lead:
    """Lock a lead for a write by another module (pipeline, visits), applying a due drop first."""
    lead = _lock_lead(tenant, lead_id)
    _expire_if_due(lead, now)
    return lead


# ------------------------------------------------------------------------------- pools and policy


def pool_create(
    *,
    tenant: Tenant,
    name: str,
    is_default: bool = False,
    org_units: list[OrgUnit] | None = None,
    now: datetime | None = None,
    actor: Any = None,
    **policy: Any,
) -> Pool:
    now = now or clock.now()
    pool = Pool(tenant=tenant, name=name, is_default=is_default, created_at=now)
    _apply_policy(pool, policy)
    pool.save()
    for unit in org_units or []:
        PoolMember.objects.create(tenant=tenant, pool=pool, org_unit=unit)
    change_record(
        tenant=tenant,
        actor=actor,
        action="pool.create",
        obj=pool,
        before=None,
        after={"name": name, **policy_of(pool)},
        now=now,
    )
    return pool


def pool_create_default(*, tenant: Tenant, root: OrgUnit, now: datetime | None = None) -> Pool:
    """Every tenant starts with one default pool, default policy, that all its members belong to."""
    return pool_create(tenant=tenant, name="默认公海", is_default=True, org_units=[root], now=now)


def policy_of(pool: Pool) -> dict[str, Any]:
    return {f: getattr(pool, f) for f in POLICY_FIELDS}


_POLICY_BOUNDS = {
    "claim_limit": (0, 100000),
    "daily_claim_limit": (0, 100000),
    "reclaim_cooldown_days": (0, 365),
    "protection_days": (1, 3650),
    "no_visit_days": (1, 3650),
    "no_progress_days": (1, 3650),
    "max_self_extensions": (0, 100),
    "self_extension_days": (0, 365),
    "lock_limit": (0, 100000),
    "remind_days_before": (0, 365),
}


def _apply_policy(pool: Pool, policy: dict[str, Any]) -> None:
    unknown = set(policy) - set(POLICY_FIELDS)
    if unknown:
        field = sorted(unknown)[0]
        raise FieldInvalid(
            _("%(field)s is not a pool setting.") % {"field": field}, code="unknown_field", field=field
        )
    for field, value in policy.items():
        if field in _POLICY_BOUNDS:
            low, high = _POLICY_BOUNDS[field]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise FieldInvalid(
                    _("%(field)s must be a whole number from %(low)s to %(high)s.")
                    % {"field": field, "low": low, "high": high},
                    field=field,
                )
        elif field == "assign_counts_toward_limit" and not isinstance(value, bool):
            raise FieldInvalid(_("%(field)s must be true or false.") % {"field": field}, field=field)
        elif field == "claim_limit_by_role" and (
            not isinstance(value, dict)
            or any(
                role not in Membership.Role.values
                or isinstance(n, bool)
                or not isinstance(n, int)
                or not 0 <= n <= 100000
                for role, n in value.items()
            )
        ):
            raise FieldInvalid(_("claim_limit_by_role maps roles to whole numbers."), field=field)
        setattr(pool, field, value)


@transaction.atomic
def pool_policy_update(
    *, tenant: Tenant, actor: Membership, pool: Pool, policy: dict[str, Any], now: datetime | None = None
) -> Pool:
    """Change a pool's rules (admins of the tenant or of the pool). New values apply to operations from now
    on; deadlines already set on private leads keep their values until the lead's next clock event."""
    now = now or clock.now()
    if pool.pk not in pool_admin_ids_of(tenant=tenant, membership=actor):
        raise NotSupervisor(_("Only an admin of this pool may change its policy."))
    locked = Pool.objects.select_for_update().get(tenant=tenant, pk=pool.pk)
    before = policy_of(locked)
    _apply_policy(locked, policy)
    after = policy_of(locked)
    if before != after:
        locked.policy_updated_at = now
        locked.save()
        from leadsea.audit.services import changed_fields

        b, a = changed_fields(before, after)
        change_record(
            tenant=tenant, actor=actor.user, action="pool.policy", obj=locked, before=b, after=a, now=now
        )
    return locked
