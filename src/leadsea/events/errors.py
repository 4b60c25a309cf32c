"""Error codes of events, webhooks and plugins (stable; documented in docs/events.md and docs/api.md)."""

from django.utils.translation import gettext_lazy

from leadsea.core.errors import FieldInvalid, Forbidden, NotFound


class NotTenantAdmin(Forbidden):
    code = "not_tenant_admin"
    default_message = gettext_lazy("Only an administrator of this tenant may do this.")


class WebhookNotFound(NotFound):
    code = "webhook_not_found"
    default_message = gettext_lazy("Webhook not found.")


class DeliveryNotFound(NotFound):
    code = "delivery_not_found"
    default_message = gettext_lazy("Delivery not found.")


class PluginNotFound(NotFound):
    code = "plugin_not_found"
    default_message = gettext_lazy("No such plugin is installed.")


class WebhookUrlInvalid(FieldInvalid):
    code = "invalid_url"
    default_message = gettext_lazy("url must be an http or https URL.")


class WebhookUrlPrivate(FieldInvalid):
    code = "url_not_public"
    default_message = gettext_lazy("url points at a private, loopback or link-local address.")


class EventTypeInvalid(FieldInvalid):
    code = "invalid_event_type"
    default_message = gettext_lazy("Unknown event type.")
