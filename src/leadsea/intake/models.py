"""Intake: where leads come from (sources, records), the review queue, per-field provenance and merges."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from leadsea.core.models import TenantModel, tenant_unique, unchecked_tenant


class IntakeSettings(TenantModel):
    """The tenant's matching thresholds (one row per tenant, created with the defaults on first use).

    Scores are match probabilities in [0, 1] from `matching.probability`: at or above `auto_merge_at` a
    record is merged into the best candidate, below `review_at` it becomes a new lead, in between a person
    decides in the review queue."""

    DEFAULT_AUTO_MERGE_AT = 0.98
    DEFAULT_REVIEW_AT = 0.5

    auto_merge_at = models.FloatField(default=DEFAULT_AUTO_MERGE_AT)
    review_at = models.FloatField(default=DEFAULT_REVIEW_AT)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            tenant_unique("intakesettings"),
            models.UniqueConstraint(fields=["tenant"], name="intakesettings_tenant_uniq"),
        ]


class IntakeSource(TenantModel):
    """One named origin of records: a file import, BDs, the join form, crowdsourcing, an upstream system."""

    class Channel(models.TextChoices):
        IMPORT = "import", _("File import")
        BD = "bd", _("BD in the field")
        SELF_SUBMISSION = "self_submission", _("Merchant self-submission")
        CROWD = "crowd", _("Crowdsourcing")
        PUSH = "push", _("Upstream push (API)")
        PULL = "pull", _("Upstream pull (HTTP)")
        QUEUE = "queue", _("Message queue")

    # Default trust by channel (higher wins in survivorship): a BD on site beats a partner feed, which beats
    # a crawl, which beats anonymous submissions.
    DEFAULT_TRUST = {
        "bd": 80,
        "push": 60,
        "pull": 50,
        "queue": 50,
        "import": 40,
        "self_submission": 30,
        "crowd": 20,
    }

    key = models.SlugField(max_length=50)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    name = models.CharField(max_length=200)
    trust = models.IntegerField(default=40)
    config = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            tenant_unique("intakesource"),
            models.UniqueConstraint(fields=["tenant", "key"], name="intakesource_key_uniq"),
        ]

    def __str__(self) -> str:
        return self.name or self.key


class ImportJob(TenantModel):
    """One file being imported, in numbered batches; re-running the same file resumes after the last batch."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    source = models.ForeignKey(IntakeSource, on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=500)  # the stored copy the batches are read from
    sha256 = models.CharField(max_length=64)
    file_format = models.CharField(max_length=10)  # csv or xlsx
    encoding = models.CharField(max_length=20, blank=True)
    batch_size = models.PositiveIntegerField(default=500)
    total_rows = models.PositiveIntegerField(default=0)  # data rows (header excluded)
    done_rows = models.PositiveIntegerField(default=0)
    next_batch = models.PositiveIntegerField(default=0)  # the first batch not done yet
    counts = models.JSONField(default=dict, blank=True)  # records per status
    problem_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error_message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [tenant_unique("importjob")]
        indexes = [models.Index(fields=["tenant", "source", "sha256"], name="importjob_file_idx")]


class ImportBatch(TenantModel):
    """A done batch of an import job: written in the same transaction as its records, so a crash leaves
    whole batches done and the rest not started."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField()
    first_line = models.PositiveIntegerField()  # file line numbers (the header is line 1)
    last_line = models.PositiveIntegerField()
    counts = models.JSONField(default=dict, blank=True)
    problems = models.JSONField(default=list, blank=True)  # [{line, code, message, field}]
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            tenant_unique("importbatch"),
            models.UniqueConstraint(fields=["tenant", "job", "number"], name="importbatch_number_uniq"),
        ]


class IntakeRecord(TenantModel):
    """One incoming record as received and normalized, and what became of it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CREATED = "created", _("Created a lead")
        MERGED = "merged", _("Merged into a lead")
        REVIEW = "review", _("Waiting for review")
        REJECTED = "rejected", _("Rejected")
        ERROR = "error", _("Error")

    source = models.ForeignKey(IntakeSource, on_delete=models.PROTECT, related_name="records", db_index=False)
    external_id = models.CharField(max_length=200, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    raw = models.JSONField(default=dict)
    normalized = models.JSONField(default=dict, blank=True)
    payload_hash = models.CharField(max_length=64, blank=True)  # sha256 of the canonical raw JSON
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    lead = models.ForeignKey(  # indexed alone: deleting a lead sets it null with WHERE lead_id IN (...)
        "leads.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    score = models.FloatField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    error_field = models.CharField(max_length=60, blank=True)
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    line = models.PositiveIntegerField(null=True, blank=True)  # line in the imported file

    class Meta:
        constraints = [
            tenant_unique("intakerecord"),
            models.UniqueConstraint(
                fields=["tenant", "source", "external_id"],
                name="intakerecord_external_uniq",
                condition=~models.Q(external_id=""),
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "-received_at"], name="intakerecord_status_idx"),
        ]


class ReviewItem(TenantModel):
    """A record that may duplicate an existing lead: a person decides."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("duplicate review status", "Open")
        MERGED = "merged", _("Merged")
        NOT_DUPLICATE = "not_duplicate", _("Not a duplicate")
        CREATED = "created", _("Created new")

    record = models.ForeignKey(IntakeRecord, on_delete=models.CASCADE, related_name="review_items")
    candidate = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    explanation = models.JSONField(default=dict, blank=True)  # matching.compare() per field
    # Other candidates above the review threshold, best first: [{lead_id, score}].
    alternatives = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [tenant_unique("reviewitem")]
        indexes = [
            models.Index(fields=["tenant", "status", "-score", "id"], name="reviewitem_queue_idx"),
            models.Index(fields=["tenant", "candidate"], name="reviewitem_candidate_idx"),
        ]


class FieldProvenance(TenantModel):
    """Who said a lead's fields have which values, and when: one row per giving (an intake record joining
    or making the lead, a person's edit in the workbench, the values the lead had before intake), its
    `given` the survivorship fields given (`pipeline.LEAD_FIELDS`, empty ones left out). The lead holds,
    per field, the value of the winning row: a BD-verified value first, then the most trusted source, then
    the most recent."""

    # Written by the intake services (and the workbench's hook) from rows of the same transaction: the
    # database checks none of their references (each checked reference cost the server ~10 µs a row at
    # commit). Django still applies on_delete. One row per giving rather than per field (intake.0006): a
    # record's eight field rows were the largest write of intake and were all read back on every merge.
    tenant = unchecked_tenant()
    # indexed alone, as above
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    given = models.JSONField(default=dict)  # {field: value}
    # Read by lead only: source, record and actor have no index of their own (three fewer index entries per
    # row; sources, records and users are not deleted by the product, and Django's SET_NULL would scan).
    source = models.ForeignKey(
        IntakeSource,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    record = models.ForeignKey(
        IntakeRecord,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    trust = models.IntegerField(default=0)  # the source's trust when the value was given
    at = models.DateTimeField()
    verified_by_bd = models.BooleanField(default=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        constraints = [tenant_unique("fieldprovenance")]


class LeadMerge(TenantModel):
    """One merge of `merged` into `survivor`, with what is needed to undo it."""

    survivor = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+")
    merged = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(
        IntakeRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Both leads as they were (all columns that the merge may change) and their tags.
    snapshot_before = models.JSONField(default=dict)
    # Ids of the rows moved from merged to survivor, by kind: visits, contacts, tasks, tags, ledger, ...
    moved_ids = models.JSONField(default=dict)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [tenant_unique("leadmerge")]
        indexes = [
            models.Index(fields=["tenant", "survivor", "-at"], name="leadmerge_survivor_idx"),
            models.Index(fields=["tenant", "merged", "-at"], name="leadmerge_merged_idx"),
        ]


class LeadKey(TenantModel):
    """Blocking keys of a lead for candidate search (64-bit hashes of phone, name and pinyin keys, the name
    keys qualified by a coarse geo cell or the city). One indexed IN query finds the candidates of a whole
    batch, on PostgreSQL and SQLite alike."""

    # A derived index of the lead's fields, rebuilt by `leadsea intake_keys`: its references are not checked
    # by the database (two checks per key row at commit, a third of the server's time to write a lead's
    # keys); Django's on_delete removes the rows with their lead or tenant.
    tenant = unchecked_tenant()
    # Indexed on its own: deleting a lead checks and cascades with WHERE lead_id IN (...), without the tenant.
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    key = models.BigIntegerField()

    class Meta:
        constraints = [tenant_unique("leadkey")]
        # Covering: the candidate lookup reads (key -> lead) from the index alone, no heap page per row.
        indexes = [models.Index(fields=["tenant", "key", "lead"], name="leadkey_key_lead_idx")]


class LeadFeatures(TenantModel):
    """A lead's prepared matcher features (`matching.features_dump`), written with its blocking keys by the
    one function that writes keys: candidates found through the keys are scored without reading the lead
    row or computing its features afresh. Rows of another `version` (the matcher changed) are computed from
    the lead instead; `leadsea intake_keys --tenant SLUG` rewrites them."""

    tenant = unchecked_tenant()  # as LeadKey's
    lead = models.OneToOneField(
        "leads.Lead", on_delete=models.CASCADE, primary_key=True, related_name="+", db_constraint=False
    )
    version = models.BigIntegerField()
    lat = models.FloatField(null=True)
    lng = models.FloatField(null=True)
    data = models.TextField()
