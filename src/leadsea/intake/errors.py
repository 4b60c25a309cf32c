"""Typed errors of intake: stable codes, mapped to HTTP once at the API edge (see docs/api.md)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from leadsea.core.errors import Conflict, FieldInvalid, NotFound


class RecordInvalid(FieldInvalid):
    """One incoming record cannot be used; reported per record, the rest of the batch goes on."""

    code = "record_invalid"
    default_message = gettext_lazy("The record is invalid.")


class TooManyRecords(FieldInvalid):
    code = "too_many_records"
    default_message = gettext_lazy("Too many records in one request.")


class SourceNotFound(NotFound):
    code = "source_not_found"
    default_message = gettext_lazy("Intake source not found.")


class SourceChannelMismatch(Conflict):
    code = "source_channel_mismatch"
    default_message = gettext_lazy("This source key is already used by another channel.")


class ReviewItemNotFound(NotFound):
    code = "review_item_not_found"
    default_message = gettext_lazy("Review item not found.")


class ReviewAlreadyDecided(Conflict):
    code = "review_already_decided"
    default_message = gettext_lazy("This review item has already been decided.")


class MergeOwnerConflict(Conflict):
    """Both leads are in the private seas of different people: merging would silently drop one of them."""

    code = "merge_owner_conflict"
    default_message = gettext_lazy(
        "Both leads are privately owned by different people; release or transfer one of them first."
    )


class MergeInvalid(Conflict):
    code = "merge_invalid"
    default_message = gettext_lazy("These leads cannot be merged.")


class MergeNotFound(NotFound):
    code = "merge_not_found"
    default_message = gettext_lazy("Merge not found.")


class MergeAlreadyUndone(Conflict):
    code = "merge_already_undone"
    default_message = gettext_lazy("This merge has already been undone.")


class ImportFileInvalid(FieldInvalid):
    code = "import_file_invalid"
    default_message = gettext_lazy("The file cannot be imported.")


class ImportJobNotFound(NotFound):
    code = "import_job_not_found"
    default_message = gettext_lazy("Import not found.")
